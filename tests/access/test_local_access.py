"""``[access] api_key`` end to end on the local provider (a real Docker engine): the deployed
runtime refuses anonymous and wrong-key requests, while modelport's own deploy gates, swap,
migrate (with its output comparison) and predict all pass through with the key; the key is in no
plan, state row, event or error."""

from __future__ import annotations

import json

import httpx

import modelport.api as mp
from modelport.engine.events import GateProgress

from tests.local.conftest import EXAMPLES, make_project

SAMPLE = json.loads((EXAMPLES / "iris" / "sample.json").read_text())


def infer(endpoint: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{endpoint}/v2/models/iris/infer", json=SAMPLE, headers=headers or {}, timeout=30)


def assert_guarded(endpoint: str, key: str) -> None:
    assert infer(endpoint).status_code == 401
    assert infer(endpoint, {"Authorization": "Bearer not-the-key"}).status_code == 403
    assert infer(endpoint, {"Authorization": f"Bearer {key}"}).status_code == 200
    assert infer(endpoint, {"X-API-Key": key}).status_code == 200
    assert httpx.get(f"{endpoint}/v2/health/ready", timeout=10).status_code == 200  # probes stay open


def test_keyed_deployment_refuses_strangers_and_lets_modelport_through(tmp_path, session, unique_name,
                                                                     local_cleanup, api_key):
    variable, key = api_key
    local_cleanup.append(unique_name)
    access = f'\n[access]\napi_key = "env:{variable}"\n'
    v1 = make_project(tmp_path / "v1", "iris", unique_name, access)
    # the swap's gate bakes under its own load: every request of it must carry the key too
    analysis = "\n[rollout.analysis]\nbake = 4\nload = 5\nmax_error_rate = 0\n"
    v2 = make_project(tmp_path / "v2", "iris-v2", unique_name, access + analysis)
    seen = []
    session.on_event = seen.append
    plan = mp.plan(v1, "dev", session=session)
    assert key not in json.dumps(plan.to_dict())
    first = mp.deploy(v1, "dev", session=session)  # its gates send the key
    assert_guarded(first.endpoint, key)
    swapped = mp.swap(v2, "dev", strategy="blue-green", session=session)
    assert_guarded(swapped.endpoint, key)
    baked = [e for e in seen if isinstance(e, GateProgress)]
    assert baked and baked[-1].requests > 0 and baked[-1].errors == 0, baked
    reply = mp.predict(unique_name, "dev", SAMPLE, session=session)
    assert reply["model_version"] == "2.0.0"
    moved = mp.migrate(unique_name, "dev", "staging", session=session)  # compares outputs with the key
    assert_guarded(moved.endpoint, key)
    text = json.dumps([e.to_dict() if hasattr(e, "to_dict") else str(e) for e in seen], default=str)
    assert key not in text and variable in json.dumps(plan.to_dict())  # the reference, never the value
    assert key not in (tmp_path / "state.db").read_bytes().decode("latin-1")
    for target in ("dev", "staging"):
        mp.destroy(unique_name, target, session=session)
