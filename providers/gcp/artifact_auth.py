"""Registry credentials for Google Artifact Registry."""

from __future__ import annotations

import datetime as dt

from modelport.registry import Credentials, RegistryAuthError, TokenAuth
from modelport.registry.auth import expiry

#: the username Artifact Registry expects with an OAuth2 access token as the password
GCP_USER = "oauth2accesstoken"


class GcpAuth(TokenAuth):
    """Google Artifact Registry: an OAuth2 access token as the password of ``oauth2accesstoken``.
    Takes google-auth credentials (and optionally the transport request to refresh them with)."""

    def __init__(self, credentials, request=None) -> None:
        super().__init__()
        self._credentials = credentials
        self._request = request

    def fetch(self, registry: str) -> tuple[Credentials, float]:
        """The credentials' access token, refreshed first when it is missing or expired."""
        creds = self._credentials
        try:
            if not creds.valid or not creds.token:
                creds.refresh(self._request or _google_request())
        except Exception as exc:
            raise RegistryAuthError(f"could not refresh Google credentials ({type(exc).__name__})",
                                    registry=registry, step="google-auth refresh") from None
        if not creds.token:
            raise RegistryAuthError("Google credentials gave no access token", registry=registry,
                                    step="google-auth refresh")
        expires = creds.expiry.replace(tzinfo=dt.timezone.utc) if creds.expiry else None
        return Credentials(GCP_USER, creds.token), expiry(expires, default_s=3000)


def _google_request():
    from google.auth.transport.requests import Request  # lazy: google-auth is an optional extra

    return Request()
