"""Registries: store, export, push and copy one image by digest, sending only what is missing.

Quick start::

    import docker
    from modelport.registry import OciStore, export_image, push, copy, BasicAuth, RichProgress

    store = OciStore()                                  # $MODELPORT_HOME/oci
    image = export_image(docker.from_env(), "my-model:latest", store)
    push(store, image.digest, "127.0.0.1:5000/models/iris")
    with RichProgress("copy") as bar:
        result = copy(f"127.0.0.1:5000/models/iris@{image.digest}", "registry.example/iris",
                      dest_auth=BasicAuth("user", "secret"), progress=bar)
    assert result.digest == image.digest

Auth adapters for the clouds (``EcrAuth``, ``GcpAuth``, ``AcrAuth``, ``AcrAdminAuth``) import their
SDKs lazily. Every error is a :class:`RegistryError` naming the registry and step, never a secret.
"""

from .auth import AcrAdminAuth, AnonymousAuth, BasicAuth, Credentials, RegistryAuth
from .cloud_auth import AcrAuth, EcrAuth, GcpAuth
from .errors import (BlobDigestMismatch, DigestMismatch, ExportError, InvalidReference,
                     ManifestDigestMismatch, RegistryAuthError, RegistryError, RegistryNotFound,
                     RegistryProtocolError, RegistryUnavailable)
from .export import ExportedImage, export_image
from .progress import ProgressCallback, ProgressEvent, RichProgress
from .reference import Reference, parse_reference
from .retry import RetryPolicy
from .store import OciStore, default_root
from .transfer import TransferResult, copy, push

__all__ = [
    "AcrAdminAuth", "AcrAuth", "AnonymousAuth", "BasicAuth", "BlobDigestMismatch", "Credentials",
    "DigestMismatch", "EcrAuth", "ExportError", "ExportedImage", "GcpAuth", "InvalidReference",
    "ManifestDigestMismatch", "OciStore", "ProgressCallback", "ProgressEvent", "Reference",
    "RegistryAuth", "RegistryAuthError", "RegistryError", "RegistryNotFound", "RegistryProtocolError",
    "RegistryUnavailable", "RetryPolicy", "RichProgress", "TransferResult", "copy", "default_root",
    "export_image", "parse_reference", "push",
]
