"""Registry credentials for Amazon ECR."""

from __future__ import annotations

import base64

from modelport.redact import remember, secret_fields
from modelport.registry import Credentials, RegistryAuthError, TokenAuth
from modelport.registry.auth import expiry


class EcrAuth(TokenAuth):
    """Amazon ECR: ``get_authorization_token`` gives base64 ``AWS:<password>`` valid for 12 hours.
    Takes a configured boto3 ECR client (region, endpoint and credentials are the caller's)."""

    def __init__(self, ecr_client) -> None:
        super().__init__()
        self._ecr = ecr_client
        # botocore's DEBUG log of the reply shows the token before fetch can remember it
        secret_fields("authorizationToken")

    def fetch(self, registry: str) -> tuple[Credentials, float]:
        """An ECR authorization token, decoded into a username and password."""
        try:
            reply = self._ecr.get_authorization_token()
            data = reply["authorizationData"][0]
            # the token as ECR sends it (base64 "AWS:<password>"): botocore's DEBUG log of the
            # reply quotes it, and redaction knows only what is registered
            remember(data["authorizationToken"])
            user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        except Exception as exc:  # boto errors carry no secret; the decoded token is never shown
            raise RegistryAuthError(f"could not get an ECR authorization token ({type(exc).__name__})",
                                    registry=registry, step="ecr get_authorization_token") from None
        return Credentials(user, password), expiry(data.get("expiresAt"), default_s=12 * 3600)
