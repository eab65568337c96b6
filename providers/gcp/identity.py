"""Identity tokens for private Cloud Run services, from google-auth's default chain.

A private service (the default: no ``allUsers`` invoker) answers only requests carrying a
Google-signed ID token whose audience is the service's URL
(https://cloud.google.com/run/docs/authenticating/service-to-service). modelport's own requests
(health gates, output comparison, ``predict``) get one the way the cloud's own tools do:
``google.oauth2.id_token.fetch_id_token_credentials`` (a service-account key file named by
``GOOGLE_APPLICATION_CREDENTIALS``, or the metadata server), else the ID token of the user's
application-default login (``gcloud auth application-default login``). Tokens are cached per
audience until they expire and registered for redaction.
"""

from __future__ import annotations

import threading

from modelport.errors import ProviderError
from modelport.redact import remember


class _UserIdToken:
    """The ID token that comes with a user's refreshed application-default credentials."""

    def __init__(self, credentials) -> None:
        self._credentials = credentials

    @property
    def valid(self) -> bool:
        return bool(self._credentials.valid and getattr(self._credentials, "id_token", None))

    @property
    def token(self) -> str | None:
        return getattr(self._credentials, "id_token", None)

    def refresh(self, request) -> None:
        self._credentials.refresh(request)


class IdentityTokens:
    """ID tokens per audience (a service URL), minted and refreshed on demand."""

    def __init__(self) -> None:
        self._minters: dict[str, object] = {}
        self._lock = threading.Lock()

    def headers(self, audience: str) -> dict[str, str]:
        """``Authorization: Bearer <ID token for audience>``; ProviderError when none can be had."""
        from google.auth import exceptions as aexc
        from google.auth.transport.requests import Request

        with self._lock:
            try:
                minter = self._minters.get(audience) or self._minter(audience, Request())
                if not minter.valid:
                    minter.refresh(Request())
            except aexc.GoogleAuthError as exc:
                raise ProviderError("gcp", f"get an identity token for {audience}",
                                    f"google-auth could not mint one ({type(exc).__name__})",
                                    hint="set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or "
                                         "run `gcloud auth application-default login`; or make the service "
                                         "public (public = true)") from None
            self._minters[audience] = minter
            token = minter.token
        if not token:
            raise ProviderError("gcp", f"get an identity token for {audience}", "google-auth gave no ID token",
                                hint="use service account credentials (GOOGLE_APPLICATION_CREDENTIALS)")
        remember(token)
        return {"Authorization": f"Bearer {token}"}

    @staticmethod
    def _minter(audience: str, request):
        import google.auth
        import google.oauth2.id_token
        from google.auth import exceptions as aexc

        try:  # service account key file, then the metadata server (https://google.aip.dev/auth/4110)
            return google.oauth2.id_token.fetch_id_token_credentials(audience, request=request)
        except aexc.DefaultCredentialsError:
            credentials, _project = google.auth.default()  # a user's application-default login
            if not hasattr(credentials, "id_token"):
                raise
            return _UserIdToken(credentials)
