"""Identity tokens against the Cloud Run emulator, through google-auth's default chain and a plain
HTTP client: the emulated Google identity hands out a service-account key file, google-auth mints
ID tokens with it at the key file's ``token_uri``, and a private service's URL lets in exactly the
callers Cloud Run would (https://cloud.google.com/run/docs/authenticating/service-to-service)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import google.auth
import google.auth.transport.requests
import google.oauth2.id_token
import httpx
import pytest
from google.cloud import run_v2
from google.iam.v1 import iam_policy_pb2, policy_pb2

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

BASE_IMAGE = os.environ.get("MODELPORT_BASE_IMAGE", "modelport-base:bookworm")
SERVE = ["sh", "-c", "exec python3 -m http.server $PORT --bind $MODELPORT_HOST"]


@pytest.fixture(scope="module")
def private_service(gcp_emulator, base_image):
    """A private (default) service serving HTTP, created with the official client."""
    services = run_v2.ServicesClient(**gcp_emulator.client_kwargs())
    svc = run_v2.Service(template=run_v2.RevisionTemplate(containers=[run_v2.Container(image=BASE_IMAGE, command=SERVE)]))
    service_id = f"idtok-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    created = services.create_service(parent=gcp_emulator.parent, service=svc, service_id=service_id).result(timeout=120)
    yield services, created
    services.delete_service(name=created.name).result(timeout=120)


def fetch_id_token(key_file: str, audience: str, monkeypatch) -> str:
    """An ID token from google-auth's default chain with ``key_file`` as the application credentials."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", key_file)
    return google.oauth2.id_token.fetch_id_token(google.auth.transport.requests.Request(), audience)


def test_the_key_file_points_at_the_emulator_and_mints_both_token_kinds(gcp_emulator, monkeypatch):
    info = json.loads(open(gcp_emulator.credentials_file).read())
    assert info["type"] == "service_account" and info["token_uri"] == gcp_emulator.emulator.token_uri
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", gcp_emulator.credentials_file)
    creds, project = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    creds.refresh(google.auth.transport.requests.Request())  # an access token for the Admin API
    assert creds.token and project == "modelport-test"
    token = fetch_id_token(gcp_emulator.credentials_file, "https://svc.example", monkeypatch)
    assert gcp_emulator.emulator.tokens.verify(token, {"https://svc.example"}) == info["client_email"]


def test_a_forged_assertion_gets_no_token(gcp_emulator, tmp_path):
    info = json.loads(open(gcp_emulator.credentials_file).read())
    stranger = json.loads(gcp_emulator.emulator.write_credentials(tmp_path, role=None).read_text())
    forged = {**stranger, "client_email": info["client_email"]}  # someone else's key, the deployer's name
    from google.oauth2 import service_account

    creds = service_account.IDTokenCredentials.from_service_account_info(forged, target_audience="https://x")
    with pytest.raises(google.auth.exceptions.RefreshError, match="invalid_grant"):
        creds.refresh(google.auth.transport.requests.Request())


def test_private_service_lets_in_exactly_the_invokers(gcp_emulator, private_service, tmp_path, monkeypatch):
    services, svc = private_service
    url, emulator = svc.uri, gcp_emulator.emulator
    token = fetch_id_token(gcp_emulator.credentials_file, url, monkeypatch)
    email = json.loads(open(gcp_emulator.credentials_file).read())["client_email"]

    def status(headers=None) -> int:
        return httpx.get(url, headers=headers or {}, timeout=10).status_code

    assert status() == 403  # no credentials
    assert status({"Authorization": f"Bearer {token}"}) == 200  # the deployer (run.admin on the project)
    assert status({"X-Serverless-Authorization": f"Bearer {token}"}) == 200  # Cloud Run reads this one first
    head, body, signature = token.split(".")
    assert status({"Authorization": f"Bearer {head}.{body}.{signature[::-1]}"}) == 401  # bad signature
    assert status({"Authorization": f"Bearer {emulator.id_token('https://another.example', email)}"}) == 401
    expired = emulator.id_token(url, email, lifetime_s=60, issued=time.time() - 3600)
    assert status({"Authorization": f"Bearer {expired}"}) == 401
    # a valid identity without run.routes.invoke: 403 until the service's policy names it
    stranger_file = emulator.write_credentials(tmp_path, role=None)
    stranger = json.loads(stranger_file.read_text())["client_email"]
    stranger_token = fetch_id_token(str(stranger_file), url, monkeypatch)
    assert status({"Authorization": f"Bearer {stranger_token}"}) == 403
    policy = policy_pb2.Policy(bindings=[policy_pb2.Binding(role="roles/run.invoker",
                                                            members=[f"serviceAccount:{stranger}"])])
    services.set_iam_policy(request=iam_policy_pb2.SetIamPolicyRequest(resource=svc.name, policy=policy))
    assert status({"Authorization": f"Bearer {stranger_token}"}) == 200


def test_a_tag_url_takes_the_service_audience_or_its_own(gcp_emulator, private_service, monkeypatch):
    """A tag URL (https://TAG---SERVICE-HASH.a.run.app) accepts an ID token for the service URL (what
    modelport's gates send) or for itself; a token for the tag URL opens neither the service URL
    nor another service (https://cloud.google.com/run/docs/configuring/custom-audiences)."""
    services, svc = private_service
    latest = services.get_service(name=svc.name)
    traffic = [run_v2.TrafficTarget(type_=run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST,
                                    percent=100),
               run_v2.TrafficTarget(type_=run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION,
                                    revision=latest.latest_ready_revision.rsplit("/", 1)[-1], tag="gate")]
    tagged = services.update_service(service=run_v2.Service(name=svc.name, template=latest.template,
                                                            traffic=traffic)).result(timeout=120)
    tag_url = next(s.uri for s in tagged.traffic_statuses if s.tag == "gate")
    assert tag_url and tag_url != svc.uri

    def status(url: str, audience: str) -> int:
        token = fetch_id_token(gcp_emulator.credentials_file, audience, monkeypatch)
        return httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code

    assert status(tag_url, svc.uri) == 200  # the service URL is accepted on every URL of the service
    assert status(tag_url, tag_url) == 200  # and the tag URL on itself
    assert status(svc.uri, tag_url) == 401  # a tag URL's token is for that URL only
    assert status(tag_url, "https://another.example") == 401
    # a custom audience (service.proto custom_audiences) is accepted on every URL of its service
    current = services.get_service(name=svc.name)
    current.custom_audiences = ["https://models.example.com"]
    services.update_service(service=current).result(timeout=120)
    assert status(svc.uri, "https://models.example.com") == 200
    assert status(tag_url, "https://models.example.com") == 200


def test_the_metadata_server_answers_only_google_flavored_requests(gcp_emulator, private_service):
    """The metadata server's identity endpoint (querying-metadata, verifying-instance-identity):
    the flavor header is required, a forwarded request is refused, the audience is required, and
    its ID token opens the private service as the machine's service account."""
    _services, svc = private_service
    root = f"http://{gcp_emulator.emulator.metadata_server()}"
    identity = f"{root}/computeMetadata/v1/instance/service-accounts/default/identity"
    flavor = {"Metadata-Flavor": "Google"}
    ping = httpx.get(root, timeout=10)
    assert ping.status_code == 200 and ping.headers["metadata-flavor"] == "Google"
    assert httpx.get(identity, params={"audience": svc.uri}, timeout=10).status_code == 403
    forwarded = {**flavor, "X-Forwarded-For": "10.0.0.1"}
    assert httpx.get(identity, params={"audience": svc.uri}, headers=forwarded, timeout=10).status_code == 403
    assert httpx.get(identity, headers=flavor, timeout=10).status_code == 400
    token = httpx.get(identity, params={"audience": svc.uri}, headers=flavor, timeout=10).text
    assert httpx.get(svc.uri, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200


def test_a_users_login_id_token_opens_only_through_the_gcloud_client(gcp_emulator, private_service, tmp_path):
    """A user's refreshed login carries an ID token whose aud is the OAuth client it logged in with:
    `gcloud auth print-identity-token`'s client is one Cloud Run trusts, the application-default
    login's client is not (so modelport refuses such credentials for a private service and names
    impersonation as the fix: tests/access/test_gcp_credentials.py)."""
    import google.auth.exceptions
    import google.oauth2.credentials

    from moto_fixtures.gcp.tokens import GCLOUD_CLIENT_ID

    _services, svc = private_service
    request = google.auth.transport.requests.Request()

    def id_token(path) -> str:
        # from_authorized_user_file always sends the refresh to Google's endpoint (it overrides a
        # file's token_uri): the same credentials built with the emulator's token_uri
        info = json.loads(Path(path).read_text())
        creds = google.oauth2.credentials.Credentials(None, refresh_token=info["refresh_token"],
                                                      client_id=info["client_id"], client_secret=info["client_secret"],
                                                      token_uri=info["token_uri"])
        creds.refresh(request)
        assert creds.token and creds.id_token
        return creds.id_token

    def status(token: str) -> int:
        return httpx.get(svc.uri, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code

    adc = gcp_emulator.emulator.write_user_credentials(tmp_path)
    assert status(id_token(adc)) == 401  # aud: the ADC client, neither the service URL nor gcloud's
    gcloud = gcp_emulator.emulator.write_user_credentials(tmp_path, client_id=GCLOUD_CLIENT_ID)
    assert status(id_token(gcloud)) == 200
    outsider = gcp_emulator.emulator.write_user_credentials(tmp_path, role=None, client_id=GCLOUD_CLIENT_ID)
    assert status(id_token(outsider)) == 403  # a valid identity without run.routes.invoke
    forged = json.loads(adc.read_text()) | {"client_secret": "not-the-secret"}
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    with pytest.raises(google.auth.exceptions.RefreshError, match="invalid_client"):
        id_token(tmp_path / "forged.json")
