"""Operations journaled by an earlier modelport still load, resume and abort: plan steps are typed
now, and they read and write exactly the journal format on disk (a list of plain dicts, ``op``,
``target``, ``desc`` and the kind's fields)."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

import modelport.api as mp
from modelport.engine.plan import Plan
from modelport.engine.steps import KINDS, from_dict

from .conftest import SAMPLE, image, loaded, write_spec

DIGEST = "sha256:" + "ab" * 32


def _rev(revision: str, version: str) -> dict:
    """A RevisionSpec as journals hold it (no secret values)."""
    return {"deployment": "demo", "revision": revision,
            "image": {"digest": image(version).digest, "image_id": image(version).image_id, "ref": None},
            "size": {"cpu": 1.0, "memory_mib": 2048, "gpu": 0, "gpu_type": None}, "port": 8080, "env": {},
            "secrets": {}, "min_instances": 1, "max_instances": 1, "concurrency": 80, "model_name": "demo",
            "model_version": version, "config": f"old-journal-{version}"}


#: one step of every kind the journal held before steps were typed, exactly as it was written
OLD_STEPS = [
    {"op": "ensure_infra", "target": "other", "desc": "create on other: router demo", "fresh": True},
    {"op": "push_image", "target": "mem", "desc": "push image sha256:abababababab to 127.0.0.1:5000/m",
     "digest": DIGEST, "repository": "127.0.0.1:5000/m", "deployment": "demo"},
    {"op": "copy_image", "target": "other", "desc": "copy image sha256:abababababab from 127.0.0.1:5000/m to "
     "127.0.0.1:5001/m", "digest": DIGEST, "repository": "127.0.0.1:5001/m", "source": "mem",
     "source_ref": f"127.0.0.1:5000/m@{DIGEST}", "deployment": "demo"},
    {"op": "create_revision", "target": "mem", "desc": "create revision r2 on mem (memory): image sha256:...",
     "revision": "r2", "rev": _rev("r2", "2"), "resources": {"revision": "r2", "image": DIGEST}},
    {"op": "update_revision", "target": "mem", "desc": "update revision r1 to r2 on mem (memory): ...",
     "revision": "r2", "current": "r1", "rev": _rev("r2", "2"), "previous_rev": _rev("r1", "1"),
     "resources": {"revision": "r2", "image": DIGEST}},
    {"op": "wait_ready", "target": "mem", "desc": "wait until r2 is ready", "revision": "r2"},
    {"op": "gate", "target": "mem", "desc": "gate: r2 is ready and answers the smoke request", "revision": "r2",
     "via": "revision"},
    {"op": "set_traffic", "target": "mem", "desc": "traffic on mem: r1 100% -> r2 100%", "weights": {"r2": 100},
     "previous": {"r1": 100}},
    {"op": "delete_revision", "target": "mem", "desc": "delete revision r0 on mem (beyond keep_revisions=1)",
     "revision": "r0"},
    {"op": "compare", "target": "other", "desc": "compare outputs on mem and other for the sample input",
     "source": "mem"},
    {"op": "record", "target": "mem", "desc": "record the deployment", "revision": "r2", "digest": DIGEST,
     "model_version": "2", "image_ref": None, "config": "old-journal-2"},
    {"op": "destroy", "target": "mem", "desc": "retire demo on mem"},
    {"op": "forget", "target": "mem", "desc": "forget demo on mem"},
]


def test_every_old_step_reads_and_writes_back_to_the_same_text():
    assert {s["op"] for s in OLD_STEPS} == set(KINDS) - {"delete_resource", "validate"}  # those two are new
    for data in OLD_STEPS:
        assert from_dict(data).to_dict() == data
    plan = Plan.from_journal("migrate", "demo", ["mem", "other"], json.loads(json.dumps(OLD_STEPS)))
    assert json.dumps(plan.journal()) == json.dumps(OLD_STEPS)  # key order too: the same bytes on disk


def _journal_of_a_killed_process(state_path, kind: str, steps: list[dict], context: dict, done: int) -> None:
    """Journal an operation from another process that then dies (its holder is gone, as after a
    SIGKILL), through the state store's own API."""
    script = ("import json, sys; from modelport.state import StateStore\n"
              "path, kind, steps, context, done = json.loads(sys.argv[1])\n"
              "store = StateStore(path)\n"
              "op = store.begin_operation('demo', kind, ['mem'], 'modelport (an older version)', steps, context)\n"
              "store.step_done(op, done)\n")
    subprocess.run([sys.executable, "-c", script, json.dumps([str(state_path), kind, steps, context, done])],
                   check=True, timeout=60)


def _swap_to_v2(spec_file) -> tuple[list[dict], dict]:
    steps = [{"op": "create_revision", "target": "mem", "desc": "create revision r2 on mem (memory): v2",
              "revision": "r2", "rev": _rev("r2", "2"), "resources": {"revision": "r2"}},
             {"op": "gate", "target": "mem", "desc": "gate: r2 is ready and answers the smoke request",
              "revision": "r2", "via": "revision"},
             {"op": "set_traffic", "target": "mem", "desc": "traffic on mem: r1 100% -> r2 100%",
              "weights": {"r2": 100}, "previous": {"r1": 100}},
             {"op": "gate", "target": "mem", "desc": "gate: mem endpoint answers the smoke request",
              "revision": "r2", "via": "endpoint"},
             {"op": "record", "target": "mem", "desc": "record the deployment", "revision": "r2",
              "digest": image("2").digest, "model_version": "2", "image_ref": None, "config": "old-journal-2"}]
    return steps, {"spec_file": str(spec_file), "gate_timeout": 5}


def _answer(url: str) -> str:
    return httpx.post(f"{url}/v2/models/demo/infer", json=SAMPLE, timeout=5).json()["outputs"][0]["data"][0]


def test_an_old_journal_is_resumed(memory, tmp_path):
    provider, session = memory
    mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "mem", image("1"), session=session)
    steps, context = _swap_to_v2(write_spec(tmp_path / "v2", "2") / "modelport.toml")
    _journal_of_a_killed_process(session.state.path, "swap", steps, context, done=0)

    result = mp.resume("demo", session=session)
    assert result.status == "succeeded" and result.revision == "r2"
    assert _answer(result.endpoint) == "2" and provider.traffic["mem/demo"] == {"r2": 100}
    assert session.state.deployments("demo", "mem")[0]["revision"] == "r2"
    assert session.state.operations("demo")[-1].status == "succeeded"


def test_an_old_journal_is_aborted(memory, tmp_path):
    provider, session = memory
    mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "mem", image("1"), session=session)
    steps, context = _swap_to_v2(write_spec(tmp_path / "v2", "2") / "modelport.toml")
    _journal_of_a_killed_process(session.state.path, "swap", steps, context, done=1)
    # what the killed process did before its journal write: step 1 created r2
    from modelport.engine.revision import from_data
    provider.create_revision(session.target(loaded(tmp_path / "v2"), "mem")[1], from_data(steps[0]["rev"]))

    assert mp.abort("demo", session=session)["status"] == "aborted"
    assert set(provider.revisions["mem/demo"]) == {"r1"} and provider.traffic["mem/demo"] == {"r1": 100}
    assert _answer(provider.routers["mem/demo"].url) == "1"
    assert session.state.operations("demo")[-1].status == "aborted"
    assert session.state.lock_holder("demo") is None
