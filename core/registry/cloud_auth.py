"""Auth adapters for the clouds' registries: ECR, Artifact Registry, ACR.

Each takes an already-configured SDK object (a boto3 ECR client, google-auth credentials, an
azure-identity token credential), so endpoints, regions and emulators are the caller's choice;
this module imports no cloud SDK at import time. Tokens are cached until shortly before they
expire. No secret is ever put in a message, a log line or a ``repr``.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import threading
import time

import httpx

from .auth import REDACTED, Credentials
from .errors import RegistryAuthError

log = logging.getLogger(__name__)

# Refresh this long before the cloud says a token expires, so a long copy does not fail midway.
_EXPIRY_MARGIN_S = 300
ACR_NULL_USER = "00000000-0000-0000-0000-000000000000"
GCP_USER = "oauth2accesstoken"


class _CachedAuth:
    """Caches one Credentials per registry host until its expiry (minus a margin)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[Credentials, float]] = {}

    def credentials_for(self, registry: str) -> Credentials | None:
        """Cached credentials for ``registry``, fetched anew when missing or about to expire."""
        with self._lock:
            hit = self._cache.get(registry)
            if hit and hit[1] - _EXPIRY_MARGIN_S > time.time():
                return hit[0]
            creds, expires_at = self._fetch(registry)
            self._cache[registry] = (creds, expires_at)
            return creds

    def invalidate(self, registry: str) -> None:
        """Drop the cached token so the next call fetches a fresh one."""
        with self._lock:
            self._cache.pop(registry, None)

    def _fetch(self, registry: str) -> tuple[Credentials, float]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<credentials {REDACTED}>)"


class EcrAuth(_CachedAuth):
    """Amazon ECR: ``get_authorization_token`` gives base64 ``AWS:<password>`` valid for 12 hours."""

    def __init__(self, ecr_client) -> None:
        super().__init__()
        self._ecr = ecr_client

    def _fetch(self, registry: str) -> tuple[Credentials, float]:
        try:
            reply = self._ecr.get_authorization_token()
            data = reply["authorizationData"][0]
            user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        except Exception as exc:  # boto errors carry no secret; the decoded token is never shown
            raise RegistryAuthError(
                f"could not get an ECR authorization token ({type(exc).__name__})",
                registry=registry,
                step="ecr get_authorization_token",
            ) from None
        return Credentials(user, password), _timestamp(data.get("expiresAt"), default_s=12 * 3600)


class GcpAuth(_CachedAuth):
    """Google Artifact Registry: an OAuth2 access token as the password of ``oauth2accesstoken``."""

    def __init__(self, credentials, request=None) -> None:
        super().__init__()
        self._credentials = credentials
        self._request = request

    def _fetch(self, registry: str) -> tuple[Credentials, float]:
        creds = self._credentials
        try:
            if not creds.valid or not creds.token:
                creds.refresh(self._request or _google_request())
        except Exception as exc:
            raise RegistryAuthError(
                f"could not refresh Google credentials ({type(exc).__name__})",
                registry=registry,
                step="google-auth refresh",
            ) from None
        if not creds.token:
            raise RegistryAuthError("Google credentials gave no access token", registry=registry,
                                    step="google-auth refresh")
        expiry = creds.expiry.replace(tzinfo=dt.timezone.utc) if creds.expiry else None
        return Credentials(GCP_USER, creds.token), _timestamp(expiry, default_s=3000)


class AcrAuth(_CachedAuth):
    """Azure Container Registry with an AAD identity.

    The AAD access token is exchanged at ``https://<registry>/oauth2/exchange`` for an ACR refresh
    token, which is then the password of the null-GUID user (what ``az acr login`` does).
    ``exchange_url`` overrides the endpoint (a registry mirror or a local stand-in).
    """

    def __init__(self, token_credential, registry_host: str, *, tenant: str | None = None,
                 scope: str = "https://management.azure.com/.default", exchange_url: str | None = None,
                 verify: bool | str = True) -> None:
        super().__init__()
        self._credential = token_credential
        self._host = registry_host
        self._tenant = tenant
        self._scope = scope
        self._exchange_url = exchange_url or f"https://{registry_host}/oauth2/exchange"
        self._verify = verify

    def _fetch(self, registry: str) -> tuple[Credentials, float]:
        step = "azure get_token"
        try:
            access = self._credential.get_token(self._scope)
            step = "acr oauth2/exchange"
            form = {"grant_type": "access_token", "service": self._host, "access_token": access.token}
            if self._tenant:
                form["tenant"] = self._tenant
            reply = httpx.post(self._exchange_url, data=form, timeout=30, verify=self._verify)
            reply.raise_for_status()
            refresh = reply.json()["refresh_token"]
        except Exception as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            detail = f"HTTP {status}" if status else type(exc).__name__
            raise RegistryAuthError(f"could not obtain ACR credentials ({detail})",
                                    registry=registry, step=step) from None
        # ACR refresh tokens live ~3 hours; the AAD token's expiry is a safe lower bound.
        return Credentials(ACR_NULL_USER, refresh), float(access.expires_on)


def _timestamp(value, *, default_s: float) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    return time.time() + default_s


def _google_request():
    from google.auth.transport.requests import Request  # lazy: only GCP users need it

    return Request()
