"""The walking skeleton end to end on a real Docker engine: build, layer reuse, deploy, the three
serving protocols, predictions equal to the model in-process, swap, rollback, migrate, promote by
digest, destroy; the events and the history of those operations."""

from __future__ import annotations

import json

import httpx
import joblib
import numpy as np
import pytest

import modelport.api as mp
from modelport.errors import HealthGateFailed

from .conftest import EXAMPLES, make_project

SAMPLE = json.loads((EXAMPLES / "iris" / "sample.json").read_text())
ROWS = np.array(SAMPLE["inputs"][0]["data"], dtype=np.float32)


def in_process(version: str):
    model = joblib.load(EXAMPLES / ("iris" if version == "1" else "iris-v2") / "model.joblib")
    return model.predict(ROWS).tolist(), model.predict_proba(ROWS).ravel().tolist()


def outputs(endpoint: str, model: str = "iris"):
    reply = httpx.post(f"{endpoint}/v2/models/{model}/infer", json=SAMPLE, timeout=30).json()
    by_name = {o["name"]: o["data"] for o in reply["outputs"]}
    return by_name["predict"], by_name["predict_proba"]


def assert_serves(endpoint: str, version: str) -> None:
    labels, probs = outputs(endpoint)
    want_labels, want_probs = in_process(version)
    assert labels == want_labels
    assert np.allclose(probs, want_probs, atol=1e-6)


def test_model_only_change_rebuilds_only_the_last_layer(tmp_path, session, unique_name):
    v1 = mp.build(make_project(tmp_path / "v1", "iris", unique_name), session)
    v2 = mp.build(make_project(tmp_path / "v2", "iris-v2", unique_name), session)
    assert len(v1.layers) == len(v2.layers) >= 4
    assert v1.layers[:-1] == v2.layers[:-1], "base, dependencies and runtime layers are reused"
    assert v1.layers[-1] != v2.layers[-1], "the model layer differs"
    assert v1.digest != v2.digest and v1.digest.startswith("sha256:")
    again = mp.build(make_project(tmp_path / "v1b", "iris", unique_name), session)
    assert again.digest == v1.digest and again.image_id == v1.image_id, "same inputs, same image"
    assert again.cached and not v2.cached, "unchanged inputs reuse the recorded build"
    labels = v1.labels
    assert labels["io.modelport.model.version"] == "1.0.0"
    assert labels["io.modelport.model.sha256"].startswith("sha256:")
    assert labels["org.opencontainers.image.title"] == "iris"
    assert labels["io.modelport.spec.hash"].startswith("sha256:")


def test_deploy_serves_three_protocols_and_predictions_match(tmp_path, session, unique_name, local_cleanup):
    local_cleanup.append(unique_name)
    project = make_project(tmp_path / "v1", "iris", unique_name)
    result = mp.deploy(project, "dev", session=session)
    endpoint = result.endpoint
    assert result.status == "succeeded" and endpoint.startswith("http://127.")
    assert_serves(endpoint, "1")
    # KServe v1
    v1 = httpx.post(f"{endpoint}/v1/models/iris:predict", json={"instances": SAMPLE["inputs"][0]["data"]}).json()
    assert v1["predictions"] == in_process("1")[0]
    # SageMaker
    assert httpx.get(f"{endpoint}/ping").status_code == 200
    sm = httpx.post(f"{endpoint}/invocations", json={"instances": SAMPLE["inputs"][0]["data"]}).json()
    assert sm["predictions"] == in_process("1")[0]
    # OIP metadata and health
    assert httpx.get(f"{endpoint}/v2/health/live").status_code == 200
    assert httpx.get(f"{endpoint}/v2/models/iris").json()["name"] == "iris"
    # a bad request is a 4xx with an error body, and the server stays up
    bad = httpx.post(f"{endpoint}/v2/models/iris/infer", content=b"{not json", headers={"content-type": "application/json"})
    assert 400 <= bad.status_code < 500 and "error" in bad.json()
    assert httpx.post(f"{endpoint}/v2/models/nope/infer", json=SAMPLE).status_code == 404
    assert_serves(endpoint, "1")
    # no-op redeploy plans nothing
    assert mp.plan(project, "dev", session=session).empty
    status = mp.status(unique_name, session=session)[0]
    assert status["traffic"] == {"r1": 100} and status["revisions"][0]["ready"]
    assert status["revisions"][0]["ready_route"] == 200  # the runtime's own readiness route answered
    mp.destroy(unique_name, "dev", session=session)
    assert mp.status(session=session) == []


def test_two_deployments_never_collide(tmp_path, session, unique_name, local_cleanup):
    a, b = unique_name + "a", unique_name + "b"
    local_cleanup += [a, b]
    ra = mp.deploy(make_project(tmp_path / "a", "iris", a), "dev", session=session)
    rb = mp.deploy(make_project(tmp_path / "b", "iris-v2", b), "dev", session=session)
    assert ra.endpoint != rb.endpoint
    assert_serves(ra.endpoint, "1")
    assert_serves(rb.endpoint, "2")


def test_swap_rollback_migrate_destroy(tmp_path, session, unique_name, local_cleanup):
    local_cleanup.append(unique_name)
    v1 = make_project(tmp_path / "v1", "iris", unique_name)
    v2 = make_project(tmp_path / "v2", "iris-v2", unique_name)
    seen = []
    session.on_event = seen.append
    first = mp.deploy(v1, "dev", session=session)
    assert_serves(first.endpoint, "1")
    built = [e for e in seen if e.type == "build.finished"]
    assert built and built[-1].digest == first.outputs["image"]["digest"] and built[-1].duration > 0
    swapped = mp.swap(v2, "dev", strategy="blue-green", session=session)
    assert swapped.revision == "r2"
    assert_serves(swapped.endpoint, "2")
    back = mp.rollback(unique_name, "dev", session=session)
    assert back.revision == "r1"
    assert_serves(back.endpoint, "1")
    moved = mp.migrate(unique_name, "dev", "staging", retire_source=True, session=session)
    assert moved.outputs["image"]["digest"] == first.outputs["image"]["digest"]
    assert_serves(moved.endpoint, "1")
    assert [r["target"] for r in mp.status(session=session)] == ["staging"]
    # promote by digest: staging's image back on dev, the same digest, gated like any swap
    promoted = mp.promote(unique_name, "staging", "dev", session=session)
    assert promoted.outputs["image"]["digest"] == first.outputs["image"]["digest"]
    assert_serves(promoted.endpoint, "1")
    history = mp.history(unique_name, session=session)
    assert [o["kind"] for o in history["operations"]] == ["deploy", "swap", "rollback", "migrate", "promote"]
    assert history["operations"][0]["build_seconds"] > 0 and history["operations"][-1]["step_durations"]
    finished = [e for e in seen if e.type == "operation.finished"]
    assert [e.kind for e in finished] == ["deploy", "swap", "rollback", "migrate", "promote"]
    assert all(e.status == "succeeded" and e.duration > 0 for e in finished)
    mp.destroy(unique_name, "dev", session=session)
    mp.destroy(unique_name, "staging", session=session)


def test_failed_gate_keeps_old_revision_serving(tmp_path, session, unique_name, local_cleanup):
    local_cleanup.append(unique_name)
    v1 = make_project(tmp_path / "v1", "iris", unique_name)
    first = mp.deploy(v1, "dev", session=session)
    # version 2 whose smoke check expects a shape the model does not produce
    bad = make_project(tmp_path / "bad", "iris-v2", unique_name)
    (bad / "modelport.toml").write_text((bad / "modelport.toml").read_text()
                                        .replace("expected_output_shape = [2]", "expected_output_shape = [3]"))
    with pytest.raises(HealthGateFailed, match="shape"):
        mp.swap(bad, "dev", strategy="blue-green", session=session)
    status = mp.status(unique_name, session=session)[0]
    assert status["traffic"] == {"r1": 100}
    assert [r["name"] for r in status["revisions"]] == ["r1"]
    assert_serves(first.endpoint, "1")
