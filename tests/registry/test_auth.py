"""Auth adapters against real registries (htpasswd) and the clouds' SDKs (moto, google-auth,
a local stand-in for ACR's /oauth2/exchange); secrets must appear nowhere."""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from rich.console import Console

from modelport.registry import BasicAuth, Credentials, RegistryAuthError, RichProgress, copy, push
from modelport_providers.aws.ecr_auth import EcrAuth
from modelport_providers.azure.acr_auth import ACR_NULL_USER, AcrAdminAuth, AcrAuth
from modelport_providers.gcp.artifact_auth import GCP_USER, GcpAuth

from .helpers import synthetic_image


@pytest.fixture
def all_logs(caplog):
    caplog.set_level(logging.DEBUG)  # httpx/httpcore at DEBUG log request lines and headers
    return caplog


def test_basic_auth_push_and_copy_leave_no_password_anywhere(store, basic_registry, registry_a, all_logs):
    registry, user, password = basic_registry
    digest = synthetic_image(store, [400_000], seed="basic")
    auth = BasicAuth(user, password)
    console_out = io.StringIO()
    with RichProgress("push", console=Console(file=console_out, force_terminal=True)) as bar:
        pushed = push(store, digest, f"{registry.host}/secure/model:v1", auth=auth, progress=bar)
    copied = copy(f"{registry.host}/secure/model@{digest}", f"{registry_a.host}/open/model", src_auth=auth)
    assert pushed.digest == copied.digest == digest
    assert registry.tags("secure/model", auth=(user, password)) == ["v1"]
    assert bar.sent == pushed.bytes_sent

    texts = [all_logs.text, repr(pushed), repr(copied), json.dumps(pushed.to_dict()), repr(auth),
             str(auth.credentials_for(registry.host)), console_out.getvalue()]
    assert password in auth.credentials_for(registry.host).password  # the secret is really there...
    for text in texts:
        assert password not in text  # ...and nowhere else


def test_wrong_password_is_a_typed_error_without_the_secret(store, basic_registry, all_logs):
    registry, user, _ = basic_registry
    wrong = "wrong-" + uuid.uuid4().hex
    digest = synthetic_image(store, [10_000], seed="wrong")
    with pytest.raises(RegistryAuthError) as caught:
        push(store, digest, f"{registry.host}/secure/model", auth=BasicAuth(user, wrong))
    message = str(caught.value)
    assert registry.host in message and "access denied" in message
    assert wrong not in message and wrong not in repr(caught.value) and wrong not in all_logs.text
    assert caught.value.__cause__ is None and caught.value.__context__ is None or wrong not in str(
        caught.value.__context__)


def test_no_credentials_for_a_protected_registry_says_so(store, basic_registry):
    registry, _, _ = basic_registry
    digest = synthetic_image(store, [10_000], seed="anon")
    with pytest.raises(RegistryAuthError, match="requires credentials"):
        push(store, digest, f"{registry.host}/secure/model")


def test_ecr_adapter_pushes_with_the_token_from_boto3(store, htpasswd_registry, all_logs):
    boto3 = pytest.importorskip("boto3")
    from moto import mock_aws

    with mock_aws():
        ecr = boto3.client("ecr", region_name="us-east-1")
        calls = []
        ecr.meta.events.register("before-call.ecr.GetAuthorizationToken", lambda **kw: calls.append(1))
        auth = EcrAuth(ecr)
        creds = auth.credentials_for("ecr.local")
        assert creds.username == "AWS" and creds.password
        # The local registry stands in for ECR (registry override), accepting exactly that token.
        registry = htpasswd_registry({"AWS": creds.password})
        digest = synthetic_image(store, [50_000], seed="ecr")
        result = push(store, digest, f"{registry.host}/ecr/model:v1", auth=auth)
    assert result.digest == digest and registry.tags("ecr/model", auth=("AWS", creds.password)) == ["v1"]
    assert calls  # the token really came from the ECR API
    assert creds.password not in repr(auth) + repr(creds) + all_logs.text


def test_gcp_adapter_uses_oauth2accesstoken_and_caches(store, htpasswd_registry):
    import datetime as dt

    from google.oauth2.credentials import Credentials as GoogleCredentials

    token = "ya29." + uuid.uuid4().hex
    expiry = dt.datetime.utcnow() + dt.timedelta(hours=1)  # google-auth uses naive UTC
    auth = GcpAuth(GoogleCredentials(token=token, expiry=expiry))
    registry = htpasswd_registry({GCP_USER: token})
    digest = synthetic_image(store, [50_000], seed="gcp")
    assert push(store, digest, f"{registry.host}/proj/repo/model:v1", auth=auth).digest == digest
    assert auth.credentials_for(registry.host) is auth.credentials_for(registry.host)  # cached
    assert token not in repr(auth)


def test_gcp_adapter_reports_a_failed_refresh_without_secrets():
    from google.oauth2.credentials import Credentials as GoogleCredentials

    secret = "refresh-" + uuid.uuid4().hex
    creds = GoogleCredentials(token=None, refresh_token=secret, client_id="x", client_secret="y",
                              token_uri="http://127.0.0.1:9/token")  # nothing listens on port 9
    with pytest.raises(RegistryAuthError) as caught:
        GcpAuth(creds).credentials_for("europe-docker.pkg.dev")
    assert "europe-docker.pkg.dev" in str(caught.value) and "google-auth refresh" in str(caught.value)
    assert secret not in str(caught.value)


class _AadToken:
    def __init__(self, token: str, expires_on: int) -> None:
        self.token, self.expires_on = token, expires_on


class _StaticTokenCredential:
    """An azure-core TokenCredential (any object with get_token works, as azure-identity's do)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.scopes = []

    def get_token(self, *scopes, **kwargs):
        import time

        self.scopes.extend(scopes)
        return _AadToken(self.token, int(time.time()) + 3600)


@pytest.fixture
def acr_exchange():
    """A local stand-in for ACR's /oauth2/exchange: AAD token in, refresh token out."""
    state = {"aad": "aad-" + uuid.uuid4().hex, "refresh": "acr-refresh-" + uuid.uuid4().hex, "forms": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            state["forms"].append(form)
            ok = form.get("grant_type") == ["access_token"] and form.get("access_token") == [state["aad"]]
            body = json.dumps({"refresh_token": state["refresh"]} if ok else {"error": "bad"}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/oauth2/exchange"
    yield state
    server.shutdown()
    server.server_close()


def test_acr_adapter_exchanges_the_aad_token(store, htpasswd_registry, acr_exchange, all_logs):
    registry = htpasswd_registry({ACR_NULL_USER: acr_exchange["refresh"]})
    credential = _StaticTokenCredential(acr_exchange["aad"])
    auth = AcrAuth(credential, "myreg.azurecr.io", exchange_url=acr_exchange["url"])
    digest = synthetic_image(store, [50_000], seed="acr")
    assert push(store, digest, f"{registry.host}/model:v1", auth=auth).digest == digest
    assert acr_exchange["forms"][0]["service"] == ["myreg.azurecr.io"]
    assert credential.scopes == ["https://management.azure.com/.default"]
    for secret in (acr_exchange["aad"], acr_exchange["refresh"]):
        assert secret not in repr(auth) + all_logs.text


def test_acr_exchange_refusal_names_the_step_not_the_token(acr_exchange):
    auth = AcrAuth(_StaticTokenCredential("not-the-right-token"), "myreg.azurecr.io",
                   exchange_url=acr_exchange["url"])
    with pytest.raises(RegistryAuthError) as caught:
        auth.credentials_for("myreg.azurecr.io")
    assert "acr oauth2/exchange" in str(caught.value) and "401" in str(caught.value)
    assert "not-the-right-token" not in str(caught.value)


def test_acr_admin_and_credentials_reprs_are_redacted():
    secret = uuid.uuid4().hex
    assert secret not in repr(AcrAdminAuth("admin", secret))
    assert secret not in repr(Credentials("u", secret)) and secret not in str(Credentials("u", secret))


def test_bearer_token_flow_with_mount_scopes(store, token_registry, all_logs):
    registry, server = token_registry
    auth = BasicAuth(server.username, server.password)
    digest = synthetic_image(store, [300_000, 20_000], seed="bearer")
    pushed = push(store, digest, f"{registry.host}/team/src:v1", auth=auth)
    copied = copy(f"{registry.host}/team/src@{digest}", f"{registry.host}/team/dst:v1",
                  src_auth=auth, dest_auth=auth)
    assert pushed.digest == copied.digest == digest
    assert copied.blobs_mounted == 3 and copied.bytes_sent == 0  # token covered pull on the source
    assert all(r["authenticated"] and r["service"] == ["modelport-test-registry"] for r in server.requests)
    assert any({"repository:team/dst:pull,push", "repository:team/src:pull"} <= set(r["scope"])
               for r in server.requests)
    assert server.password not in all_logs.text + repr(pushed) + repr(copied)


def test_bearer_token_refused_is_an_auth_error(store, token_registry):
    registry, server = token_registry
    digest = synthetic_image(store, [1000], seed="bearer-bad")
    with pytest.raises(RegistryAuthError, match="bearer token") as caught:
        push(store, digest, f"{registry.host}/team/x", auth=BasicAuth(server.username, "nope-secret"))
    assert "nope-secret" not in str(caught.value)
