"""The metadata server of a Google machine (Compute Engine, Cloud Run, GKE), offline.

Code running on Google's machines gets its identity from the metadata server instead of a key
file; google-auth's default chain asks it when no key file is named
(``google.oauth2.id_token.fetch_id_token_credentials``, ``google.auth.default``). A real user
points google-auth at another metadata server with ``GCE_METADATA_HOST`` (the
``/computeMetadata/v1/`` requests) and ``GCE_METADATA_IP`` (the detection ping), which is how
tests reach this one. Sources:
* https://cloud.google.com/compute/docs/metadata/querying-metadata (every request must carry
  ``Metadata-Flavor: Google`` and no ``X-Forwarded-For``, else 403; answers carry
  ``Metadata-Flavor: Google``);
* https://cloud.google.com/compute/docs/instances/verifying-instance-identity and
  https://cloud.google.com/run/docs/authenticating/service-to-service#use_the_metadata_server
  (``instance/service-accounts/default/identity?audience=AUD`` answers a Google-signed ID token
  for AUD as text; ``audience`` is required);
* https://cloud.google.com/compute/docs/access/authenticate-workloads#applications
  (``instance/service-accounts/default/token`` answers an access token as JSON).
"""

from __future__ import annotations

import secrets

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .tokens import LIFETIME_S, TokenIssuer

FLAVOR = {"Metadata-Flavor": "Google"}
ACCOUNT = "computeMetadata/v1/instance/service-accounts/{account}"


class MetadataServer:
    """The metadata server of one machine running as ``email`` (its attached service account)."""

    def __init__(self, tokens: TokenIssuer, email: str, project: str) -> None:
        self.tokens, self.email, self.project = tokens, email, project
        base = "/" + ACCOUNT
        self.app = Starlette(routes=[
            Route("/", self.root),
            Route("/computeMetadata/v1/project/project-id", self.project_id),
            Route(base + "/", self.account),
            Route(base + "/identity", self.identity),
            Route(base + "/token", self.token),
        ])

    def _refusal(self, request: Request) -> Response | None:
        """querying-metadata: a request without the flavor header, or one forwarded, gets 403."""
        if request.headers.get("metadata-flavor") != "Google" or "x-forwarded-for" in request.headers:
            return PlainTextResponse("Missing Metadata-Flavor:Google header.", status_code=403, headers=FLAVOR)
        return None

    def _known(self, account: str) -> bool:
        return account in ("default", self.email)

    async def root(self, request: Request) -> Response:
        """The detection ping (google-auth GETs the root and checks the flavor header)."""
        return PlainTextResponse("computeMetadata/\n", headers=FLAVOR)

    async def project_id(self, request: Request) -> Response:
        """The project the machine runs in."""
        return self._refusal(request) or PlainTextResponse(self.project, headers=FLAVOR)

    async def account(self, request: Request) -> Response:
        """The attached service account (``?recursive=true``: email, aliases, scopes as JSON)."""
        if (refused := self._refusal(request)) is not None:
            return refused
        if not self._known(request.path_params["account"]):
            return PlainTextResponse("Not Found", status_code=404, headers=FLAVOR)
        return JSONResponse({"aliases": ["default"], "email": self.email,
                             "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}, headers=FLAVOR)

    async def identity(self, request: Request) -> Response:
        """An ID token for ``audience`` (verifying-instance-identity: audience is required)."""
        if (refused := self._refusal(request)) is not None:
            return refused
        audience = request.query_params.get("audience", "")
        if not self._known(request.path_params["account"]):
            return PlainTextResponse("Not Found", status_code=404, headers=FLAVOR)
        if not audience:
            return PlainTextResponse("non-empty audience parameter required", status_code=400, headers=FLAVOR)
        token = self.tokens.id_token(audience, self.email)
        self.tokens.issued.append(token)
        return PlainTextResponse(token, headers=FLAVOR)

    async def token(self, request: Request) -> Response:
        """An access token for the attached account (what ``google.auth.default`` uses for APIs)."""
        if (refused := self._refusal(request)) is not None:
            return refused
        if not self._known(request.path_params["account"]):
            return PlainTextResponse("Not Found", status_code=404, headers=FLAVOR)
        token = f"ya29.{secrets.token_urlsafe(48)}"
        self.tokens.issued.append(token)
        return JSONResponse({"access_token": token, "expires_in": LIFETIME_S, "token_type": "Bearer"},
                            headers=FLAVOR)
