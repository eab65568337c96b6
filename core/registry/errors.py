"""Typed registry errors.

Every error names the registry (host) and the step that failed, so the user knows where to look.
None of them ever carries a credential: messages are built only from hosts, repositories,
digests, HTTP status codes and the registry's own error codes.
"""

from __future__ import annotations

from ..errors import ModelportError, UsageError


class RegistryError(ModelportError):
    """Base class: something went wrong talking to an OCI registry or the local image store."""

    def __init__(self, message: str, *, registry: str = "", step: str = "") -> None:
        self.registry = registry
        self.step = step
        where = " ".join(p for p in (f"[{registry}]" if registry else "", step) if p)
        super().__init__(f"{where}: {message}" if where else message)

    def __str__(self) -> str:
        return self.message


class InvalidReference(RegistryError, UsageError):
    """An image reference or repository name could not be parsed."""


class RegistryAuthError(RegistryError):
    """The registry refused our credentials, or credentials could not be obtained."""


class RegistryNotFound(RegistryError):
    """A manifest or blob the operation needs does not exist at the registry."""


class RegistryUnavailable(RegistryError):
    """The registry kept failing (connection errors, 5xx, 429) after all retries."""


class RegistryProtocolError(RegistryError):
    """The registry answered something the distribution spec does not allow here."""


class DigestMismatch(RegistryError):
    """Content did not hash to the digest that names it; nothing was committed or tagged."""

    def __init__(self, what: str, expected: str, actual: str, *, registry: str = "", step: str = "") -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{what} digest mismatch: expected {expected}, got {actual}", registry=registry, step=step
        )


class BlobDigestMismatch(DigestMismatch):
    """A blob's bytes did not hash to its digest (corrupt source or store)."""


class ManifestDigestMismatch(DigestMismatch):
    """A manifest's bytes did not hash to its digest, or the destination reported another digest."""


class ExportError(RegistryError):
    """The local Docker engine's image could not be exported to the OCI store."""
