"""Identity tokens for private Cloud Run services, from google-auth's default chain.

A private service (the default: no ``allUsers`` invoker) answers only requests carrying a
Google-signed ID token whose audience is the service's URL
(https://cloud.google.com/run/docs/authenticating/service-to-service). modelport's own requests
(health gates, output comparison, ``predict``) get one the way the cloud's own tools do:
``google.oauth2.id_token.fetch_id_token_credentials`` (a service-account key file, or an
impersonated service account, named by ``GOOGLE_APPLICATION_CREDENTIALS``, else the metadata server
of a Google machine). A user's own login cannot: its ID token is for the OAuth client it logged in
with, not the service URL; that is refused with the fix (impersonation) before anything is
touched when GOOGLE_APPLICATION_CREDENTIALS names it, at the first token otherwise. Tokens are
cached per audience until they expire and registered for redaction.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from modelport.errors import ProviderError
from modelport.redact import remember


#: credential types google-auth mints ID tokens with for any audience
#: (google.oauth2.id_token.fetch_id_token_credentials: a key file, or impersonation of one)
MINTING_TYPES = ("service_account", "impersonated_service_account")
FIX = ("run `gcloud auth application-default login --impersonate-service-account SA_EMAIL` (an account "
       "with roles/run.invoker) or point GOOGLE_APPLICATION_CREDENTIALS at a service-account key file; "
       "or make the service public (public = true)")


def credentials_file_type() -> str | None:
    """The ``type`` of the file GOOGLE_APPLICATION_CREDENTIALS names (None: unset or unreadable:
    google-auth's own error says which)."""
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not path:
        return None
    try:
        return str(json.loads(Path(path).read_text()).get("type") or "unknown")
    except (OSError, ValueError, AttributeError):
        return None


def refusal(kind: str | None) -> str | None:
    """Why credentials of ``kind`` cannot call a private Cloud Run service (None: they can).

    A user's login (``authorized_user``) gets an ID token only for the OAuth client it logged in
    with, never for a service URL, and Cloud Run accepts only the service URL or a custom audience
    (https://cloud.google.com/run/docs/configuring/custom-audiences); workload identity
    federation (``external_account``) mints no Google ID token at all
    (https://google.aip.dev/auth/4110 lists key files and the metadata server only)."""
    if kind is None or kind in MINTING_TYPES:
        return None
    return (f"GOOGLE_APPLICATION_CREDENTIALS holds {kind} credentials, which cannot mint an ID token "
            "for a Cloud Run URL (a private service needs one)")


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
                                    f"google-auth could not mint one ({type(exc).__name__}: {exc})",
                                    hint=FIX) from None
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
            # what the default chain holds instead (a user's login, federation), named in the error
            credentials, _project = google.auth.default()
            kind = f"{type(credentials).__module__}.{type(credentials).__name__}"
            kind = {"google.oauth2.credentials.Credentials": "authorized_user, a user's login"}.get(kind, kind)
            raise ProviderError("gcp", f"get an identity token for {audience}",
                                f"the application-default credentials ({kind}) cannot mint an ID token "
                                "for a Cloud Run URL", hint=FIX) from None
