"""Google's token endpoint and ID tokens, offline: what lets a private service be called.

The emulator hands out what a real user has: a service-account key file whose ``token_uri`` is
the emulator's ``/token``. google-auth signs a JWT assertion with the key file's private key and
exchanges it there (``service_account.Credentials`` for an access token,
``service_account.IDTokenCredentials`` for an ID token); the emulator verifies the assertion with
the account's public key and answers with tokens it signs with its own key, which its service
routers then verify on each request. Sources:
* the JWT bearer grant: RFC 7523 section 2.1 and https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests
  (assertion claims iss, aud = token_uri, exp at most one hour after iat, scope or target_audience);
* a user's refresh (``authorized_user``): RFC 6749 section 6; the ID token's aud is the OAuth
  client (https://developers.google.com/identity/openid-connect/openid-connect#an-id-tokens-payload);
* ID tokens for Cloud Run: https://cloud.google.com/run/docs/authenticating/service-to-service
  (aud is the receiving service's URL; RS256; one hour lifetime).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from pathlib import Path

from google.auth import crypt, jwt

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"  # RFC 7523 section 2.1
ISSUER = "https://accounts.google.com"  # an ID token's iss (OpenID discovery document of Google)
LIFETIME_S = 3600  # access and ID tokens live one hour
#: the assertion's aud: Google's token endpoint, which google-auth names whatever the token_uri
#: (https://developers.google.com/identity/protocols/oauth2/service-account#jwt-auth: "aud ... is
#: always https://oauth2.googleapis.com/token"); the key file's own token_uri is accepted too
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
MAX_ASSERTION_S = 3600  # Google refuses an assertion whose exp is more than one hour after iat
REFRESH_GRANT = "refresh_token"  # a user's login (authorized_user): RFC 6749 section 6
#: the OAuth client of the gcloud CLI: the aud of `gcloud auth print-identity-token` for a user,
#: which Cloud Run accepts besides the service URL ("Cloud Run trusts the gcloud client IDs as
#: valid aud values": GoogleCloudPlatform/cloud-run-proxy pull request 8; the developer flow of
#: https://cloud.google.com/run/docs/authenticating/developers)
GCLOUD_CLIENT_ID = "32555940559.apps.googleusercontent.com"
#: the OAuth client `gcloud auth application-default login` writes into the ADC file
ADC_CLIENT_ID = "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com"


class InvalidToken(Exception):
    """A token the emulator did not sign, for another audience, or expired."""


def _rsa_pair() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


class TokenIssuer:
    """Service accounts (their public keys), the token endpoint, and ID-token verification."""

    def __init__(self) -> None:
        self._private, self._public = _rsa_pair()
        self._key_id = uuid.uuid4().hex
        self._signer = crypt.RSASigner.from_string(self._private, self._key_id)
        self._accounts: dict[str, tuple[str, str]] = {}  # email -> (key id, public PEM)
        self._users: dict[str, tuple[str, str, str]] = {}  # refresh token -> (client id, secret, email)
        self._lock = threading.Lock()
        #: every token handed out by the token endpoint (a secret scan looks for them afterwards)
        self.issued: list[str] = []

    def service_account_key(self, project: str, token_uri: str, name: str | None = None) -> dict:
        """A new service account's key file content (the JSON ``gcloud iam service-accounts keys
        create`` writes), its ``token_uri`` pointing at this emulator; each call is another account
        (default name ``modelport-<6 hex>``)."""
        private, public = _rsa_pair()
        name = name or f"modelport-{secrets.token_hex(3)}"
        key_id, email = uuid.uuid4().hex, f"{name}@{project}.iam.gserviceaccount.com"
        with self._lock:
            self._accounts[email] = (key_id, public)
        return {"type": "service_account", "project_id": project, "private_key_id": key_id,
                "private_key": private, "client_email": email, "client_id": str(secrets.randbelow(10**20)),
                "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri,
                "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email}"}

    def user_credentials(self, email: str, token_uri: str, client_id: str = ADC_CLIENT_ID) -> dict:
        """A user's login (the ``authorized_user`` file ``gcloud auth application-default login``
        writes), its ``token_uri`` pointing at this emulator. google-auth's
        ``from_authorized_user_info`` ignores a file's token_uri (it always uses Google's), so
        callers build ``google.oauth2.credentials.Credentials`` with it."""
        refresh, secret = f"1//{secrets.token_urlsafe(40)}", secrets.token_urlsafe(18)
        with self._lock:
            self._users[refresh] = (client_id, secret, email)
        return {"type": "authorized_user", "client_id": client_id, "client_secret": secret,
                "refresh_token": refresh, "token_uri": token_uri}

    def write_key_file(self, folder: Path, project: str, token_uri: str) -> Path:
        """Write a new service account's key file in ``folder`` (mode 0600); returns its path."""
        info = self.service_account_key(project, token_uri)
        path = Path(folder) / f"gcp-{info['private_key_id'][:8]}.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps(info, indent=2))
        return path

    def exchange(self, form: dict[str, str], token_uri: str) -> tuple[int, dict]:
        """Answer a token request: (HTTP status, JSON body) as Google's OAuth 2.0 endpoint does."""
        # RFC 6749 section 5.2: errors are 400 {"error": ..., "error_description": ...}
        if form.get("grant_type") == REFRESH_GRANT:
            return self._refresh(form)
        if form.get("grant_type") != GRANT_TYPE:
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."}
        try:
            claims = self._assertion_claims(form.get("assertion", ""), token_uri)
        except InvalidToken as exc:
            return 400, {"error": "invalid_grant", "error_description": str(exc)}
        now = int(time.time())
        if claims.get("target_audience"):
            token = self._sign({"iss": ISSUER, "aud": claims["target_audience"], "azp": claims["iss"],
                                "sub": claims["iss"], "email": claims["iss"], "email_verified": True,
                                "iat": now, "exp": now + LIFETIME_S})
            self.issued.append(token)
            return 200, {"id_token": token}
        if not claims.get("scope"):
            return 400, {"error": "invalid_scope", "error_description": "No scope or target_audience."}
        token = f"ya29.{secrets.token_urlsafe(48)}"
        self.issued.append(token)
        return 200, {"access_token": token, "expires_in": LIFETIME_S, "token_type": "Bearer"}

    def _refresh(self, form: dict[str, str]) -> tuple[int, dict]:
        """A user's refresh: an access token and, as the login asked for ``openid``, an ID token
        whose aud is the OAuth client (never a service URL: a user cannot choose it;
        https://developers.google.com/identity/openid-connect/openid-connect#an-id-tokens-payload)."""
        with self._lock:
            user = self._users.get(form.get("refresh_token", ""))
        if user is None:
            return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
        client_id, secret, email = user
        if form.get("client_id") != client_id or form.get("client_secret") != secret:
            return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
        now = int(time.time())
        token = self._sign({"iss": ISSUER, "aud": client_id, "azp": client_id, "sub": email, "email": email,
                            "email_verified": True, "iat": now, "exp": now + LIFETIME_S})
        access = f"ya29.{secrets.token_urlsafe(48)}"
        self.issued.extend((access, token))
        return 200, {"access_token": access, "expires_in": LIFETIME_S, "token_type": "Bearer",
                     "scope": "openid https://www.googleapis.com/auth/userinfo.email "
                              "https://www.googleapis.com/auth/cloud-platform", "id_token": token}

    def _assertion_claims(self, assertion: str, token_uri: str) -> dict:
        """The claims of a service account's signed assertion (RFC 7523 section 3 checks)."""
        try:
            unverified = jwt.decode(assertion, verify=False)
        except (ValueError, TypeError) as exc:
            raise InvalidToken(f"Invalid JWT: {exc}") from None
        with self._lock:
            account = self._accounts.get(unverified.get("iss", ""))
        if account is None:
            raise InvalidToken("Invalid JWT Signature.")  # Google's text for an unknown key
        try:
            claims = jwt.decode(assertion, certs={account[0]: account[1]},
                                audience=[GOOGLE_TOKEN_AUDIENCE, token_uri])
        except ValueError as exc:
            raise InvalidToken(f"Invalid JWT: {exc}") from None
        if int(claims["exp"]) - int(claims["iat"]) > MAX_ASSERTION_S:
            raise InvalidToken("Invalid JWT: Token must be a short-lived token (60 minutes).")
        return claims

    def _sign(self, claims: dict) -> str:
        return jwt.encode(self._signer, claims).decode()

    def id_token(self, audience: str, email: str, lifetime_s: int = LIFETIME_S, issued: float | None = None) -> str:
        """An ID token signed by this emulator (tests use it to make expired or misaddressed ones)."""
        now = int(issued if issued is not None else time.time())
        return self._sign({"iss": ISSUER, "aud": audience, "sub": email, "email": email,
                           "email_verified": True, "iat": now, "exp": now + lifetime_s})

    def verify(self, token: str, audiences: set[str]) -> str:
        """The caller's email of an ID token this emulator signed for one of ``audiences``;
        InvalidToken for a bad signature, another audience or an expired token."""
        try:
            claims = jwt.decode(token, certs={self._key_id: self._public}, audience=list(audiences))
        except (ValueError, TypeError) as exc:
            raise InvalidToken(str(exc)) from None
        if claims.get("iss") != ISSUER or not claims.get("email"):
            raise InvalidToken("the token was not issued for a Google identity")
        return claims["email"]
