"""Registry credentials: one small adapter per registry kind.

An adapter answers one question — "which username/password do I present to registry HOST?" —
through :meth:`credentials_for`. The HTTP client (:mod:`.http`) uses the answer either as HTTP
Basic credentials or to obtain a Bearer token, whichever the registry's challenge asks for.

Core has the generic adapters: anonymous, a fixed username and password, and
:class:`TokenAuth`, the base of adapters whose password is a short-lived token (each cloud
provider ships its own: ECR, Artifact Registry and ACR live in their providers). Secrets never
leave these objects in readable form: every ``repr`` is redacted, and errors name the registry and
step, never the secret.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

REDACTED = "***"
# Refresh this long before a token expires, so a long copy does not fail midway.
EXPIRY_MARGIN_S = 300


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


class TokenAuth:
    """Base of adapters whose password is a token with an expiry (a cloud registry's): the
    credentials are fetched by :meth:`fetch` and cached per registry host until shortly before
    they expire. Subclasses take an already-configured SDK object, so endpoints, regions and
    emulators stay the caller's choice, and import no SDK at import time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[Credentials, float]] = {}

    def credentials_for(self, registry: str) -> Credentials | None:
        """Cached credentials for ``registry``, fetched anew when missing or about to expire."""
        with self._lock:
            hit = self._cache.get(registry)
            if hit and hit[1] - EXPIRY_MARGIN_S > time.time():
                return hit[0]
            creds, expires_at = self.fetch(registry)
            self._cache[registry] = (creds, expires_at)
            return creds

    def invalidate(self, registry: str) -> None:
        """Drop the cached token so the next call fetches a fresh one."""
        with self._lock:
            self._cache.pop(registry, None)

    def fetch(self, registry: str) -> tuple[Credentials, float]:
        """New credentials for ``registry`` and when they expire (a Unix time); raise
        :class:`~.errors.RegistryAuthError` naming the step, never the secret."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<credentials {REDACTED}>)"


def expiry(value: object, *, default_s: float) -> float:
    """A token's expiry as a Unix time, from a datetime or a number; ``default_s`` from now when
    the cloud did not say."""
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    return time.time() + default_s


def as_auth(auth: RegistryAuth | None) -> RegistryAuth:
    """Default a missing adapter to anonymous access."""
    return AnonymousAuth() if auth is None else auth
