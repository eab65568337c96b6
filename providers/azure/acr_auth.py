"""Registry credentials for Azure Container Registry: an AAD identity, or the admin user."""

from __future__ import annotations

import httpx

from modelport.redact import remember
from modelport.registry import BasicAuth, Credentials, RegistryAuthError, TokenAuth

#: the username ACR expects with a refresh token as the password (what ``az acr login`` uses)
ACR_NULL_USER = "00000000-0000-0000-0000-000000000000"


class AcrAuth(TokenAuth):
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

    def fetch(self, registry: str) -> tuple[Credentials, float]:
        """An ACR refresh token for the identity's AAD access token."""
        step = "azure get_token"
        try:
            access = self._credential.get_token(self._scope)
            remember(access.token)  # it travels in the exchange's form body: never shown elsewhere
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


class AcrAdminAuth(BasicAuth):
    """Azure Container Registry admin user (``az acr credential show``): plain Basic credentials."""
