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

Credentials come from an auth adapter (:mod:`.auth`): anonymous, ``BasicAuth``, or a
:class:`TokenAuth` subclass for a registry whose password is a short-lived token (each cloud
provider ships its own). Every error is a :class:`RegistryError` naming the registry and step,
never a secret.
"""

from importlib import import_module
from typing import TYPE_CHECKING

# Each public name and the submodule it lives in, imported on first use (PEP 562): ``modelport
# copy`` runs in a fresh interpreter, where importing the exporter (tarfile, gzip, the Docker SDK's
# errors) or the progress bar (rich) only to copy between two registries would cost more than the
# copy itself when every blob is already there.
_WHERE = {
    "AnonymousAuth": "auth", "BasicAuth": "auth", "Credentials": "auth", "RegistryAuth": "auth", "TokenAuth": "auth",
    "BlobDigestMismatch": "errors", "DigestMismatch": "errors", "ExportError": "errors",
    "InvalidReference": "errors", "ManifestDigestMismatch": "errors", "RegistryAuthError": "errors",
    "RegistryError": "errors", "RegistryNotFound": "errors", "RegistryProtocolError": "errors",
    "RegistryUnavailable": "errors",
    "ExportedImage": "export", "export_image": "export",
    "ProgressCallback": "progress", "ProgressEvent": "progress", "RichProgress": "progress",
    "Reference": "reference", "parse_reference": "reference",
    "RegistryRetryPolicy": "retry",
    "OciStore": "store", "default_root": "store",
    "TransferResult": "transfer", "copy": "transfer", "push": "transfer",
}


def __getattr__(name: str):
    """Import the submodule that defines ``name`` when it is first asked for."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


if TYPE_CHECKING:  # what type checkers and IDEs see
    from .auth import AnonymousAuth, BasicAuth, Credentials, RegistryAuth, TokenAuth
    from .errors import (BlobDigestMismatch, DigestMismatch, ExportError, InvalidReference,
                         ManifestDigestMismatch, RegistryAuthError, RegistryError, RegistryNotFound,
                         RegistryProtocolError, RegistryUnavailable)
    from .export import ExportedImage, export_image
    from .progress import ProgressCallback, ProgressEvent, RichProgress
    from .reference import Reference, parse_reference
    from .retry import RegistryRetryPolicy
    from .store import OciStore, default_root
    from .transfer import TransferResult, copy, push

__all__ = [
    "AnonymousAuth", "BasicAuth", "BlobDigestMismatch", "Credentials", "DigestMismatch", "ExportError",
    "ExportedImage", "InvalidReference", "ManifestDigestMismatch", "OciStore", "ProgressCallback",
    "ProgressEvent", "Reference", "RegistryAuth", "RegistryAuthError", "RegistryError", "RegistryNotFound",
    "RegistryProtocolError", "RegistryRetryPolicy", "RegistryUnavailable", "RichProgress", "TokenAuth",
    "TransferResult", "copy", "default_root", "export_image", "parse_reference", "push",
]
