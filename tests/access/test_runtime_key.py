"""The serving runtime's API key (``MODELPORT_API_KEY``), served in-process: every inference,
metadata and metrics route of the three protocols refuses a request without the key (401) or
with a wrong one (403); the probes' health routes stay open; both header forms are accepted."""

from __future__ import annotations

import secrets

import pytest

from modelport.runtime.config import RuntimeConfig
from tests.runtime.runtime_helpers import config_for, sample_request, serving

KEY = secrets.token_urlsafe(24)
SAMPLE = sample_request()
GUARDED = [
    ("POST", "/v2/models/iris/infer", SAMPLE),
    ("POST", "/v2/models/iris/versions/1/infer", SAMPLE),
    ("POST", "/v1/models/iris:predict", {"instances": [[5.1, 3.5, 1.4, 0.2]]}),
    ("POST", "/invocations", {"instances": [[5.1, 3.5, 1.4, 0.2]]}),
    ("GET", "/v2", None),
    ("GET", "/v2/models/iris", None),
    ("GET", "/v2/models/iris/ready", None),
    ("GET", "/v1/models", None),
    ("GET", "/v1/models/iris", None),
    ("GET", "/metrics", None),
]


@pytest.fixture(scope="module")
def guarded():
    """The iris model served with an API key."""
    with serving(config_for("iris", api_key=KEY)) as client:
        yield client


def call(client, method, path, body, headers=None):
    return client.request(method, path, json=body, headers=headers or {})


@pytest.mark.parametrize("method,path,body", GUARDED, ids=[f"{m} {p}" for m, p, _ in GUARDED])
def test_every_inference_and_metadata_route_needs_the_key(guarded, method, path, body):
    anonymous = call(guarded, method, path, body)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert "API key" in anonymous.json()["error"]
    wrong = call(guarded, method, path, body, {"Authorization": f"Bearer {KEY}x"})
    assert wrong.status_code == 403, wrong.text
    assert KEY not in wrong.text
    assert call(guarded, method, path, body, {"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert call(guarded, method, path, body, {"X-API-Key": KEY}).status_code == 200


@pytest.mark.parametrize("path", ["/v2/health/live", "/v2/health/ready", "/ping"])
def test_probe_routes_stay_open(guarded, path):
    assert guarded.get(path).status_code == 200


@pytest.mark.parametrize("headers", [
    {"Authorization": KEY},  # no scheme
    {"Authorization": f"Basic {KEY}"},
    {"Authorization": "Bearer "},
])
def test_a_key_not_sent_as_a_bearer_token_is_no_key(guarded, headers):
    assert call(guarded, *GUARDED[0], headers).status_code == 401


def test_x_api_key_wins_over_another_authorization(guarded):
    """A platform's token in Authorization (a Cloud Run identity token) leaves the key to X-API-Key."""
    reply = call(guarded, *GUARDED[0], {"Authorization": "Bearer eyJplatform.token.sig", "X-API-Key": KEY})
    assert reply.status_code == 200
    assert call(guarded, *GUARDED[0], {"Authorization": f"Bearer {KEY}", "X-API-Key": "nope"}).status_code == 403


def test_refused_requests_are_logged_and_counted_without_the_key(guarded):
    call(guarded, *GUARDED[0], {"Authorization": f"Bearer {KEY}-wrong"})
    assert KEY not in "\n".join(map(str, guarded.access_log))
    metrics = guarded.get("/metrics", headers={"X-API-Key": KEY}).text
    assert 'status="403"' in metrics and 'status="401"' in metrics


def test_the_key_comes_from_the_environment_and_is_never_shown():
    env = {"MODELPORT_MODEL_NAME": "iris", "MODELPORT_MODEL_PATH": "/m", "MODELPORT_FRAMEWORK": "sklearn",
           "MODELPORT_API_KEY": f" {KEY}\n"}
    config = RuntimeConfig.from_env(env)
    assert config.api_key == KEY
    assert KEY not in repr(config)
    assert RuntimeConfig.from_env({**env, "MODELPORT_API_KEY": ""}).api_key is None


def test_without_a_key_everything_is_open():
    with serving(config_for("iris")) as client:
        assert call(client, *GUARDED[0]).status_code == 200
