"""Registry credentials: one small adapter per registry kind.

An adapter answers one question — "which username/password do I present to registry HOST?" —
through :meth:`credentials_for`. The HTTP client (:mod:`.http`) uses the answer either as HTTP
Basic credentials or to obtain a Bearer token, whichever the registry's challenge asks for.

Cloud adapters (ECR, Artifact Registry, ACR) live in :mod:`.cloud_auth` and import their SDKs
lazily. Secrets never leave these objects in readable form: every ``repr`` is redacted, and
errors name the registry and step, never the secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

REDACTED = "***"


@dataclass(frozen=True)
class Credentials:
    """A username/password pair for one registry; the password never appears in ``repr``."""

    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        from ..redact import remember  # errors and log records never show it

        remember(self.password)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password={REDACTED!r})"

    __str__ = __repr__


@runtime_checkable
class RegistryAuth(Protocol):
    """What the registry client asks of an auth adapter."""

    def credentials_for(self, registry: str) -> Credentials | None:
        """Credentials to present to ``registry`` (``host[:port]``), or ``None`` for anonymous."""

    def invalidate(self, registry: str) -> None:
        """Forget cached credentials after the registry rejected them (called once, then retried)."""


class AnonymousAuth:
    """No credentials: public or open registries (bearer tokens are still fetched anonymously)."""

    def credentials_for(self, registry: str) -> Credentials | None:
        """Always ``None``."""
        return None

    def invalidate(self, registry: str) -> None:
        """Nothing cached."""

    def __repr__(self) -> str:
        return "AnonymousAuth()"


class BasicAuth:
    """A fixed username and password (any OCI registry with htpasswd or token auth)."""

    def __init__(self, username: str, password: str) -> None:
        self._credentials = Credentials(username, password)

    def credentials_for(self, registry: str) -> Credentials | None:
        """The configured pair, for every registry."""
        return self._credentials

    def invalidate(self, registry: str) -> None:
        """Static credentials cannot be refreshed."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(username={self._credentials.username!r}, password={REDACTED!r})"


class AcrAdminAuth(BasicAuth):
    """Azure Container Registry admin user (``az acr credential show``): plain Basic credentials."""


def as_auth(auth: RegistryAuth | None) -> RegistryAuth:
    """Default a missing adapter to anonymous access."""
    return AnonymousAuth() if auth is None else auth
