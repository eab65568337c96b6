"""The event stream (``Session(on_event=...)``): operation, step and gate start/finish with
durations, retries and undo steps, each JSON-ready and matching the documented schema."""

from __future__ import annotations

import json

import pytest

import modelport.api as mp
from modelport.engine import events
from modelport.errors import HealthGateFailed

from tests.engine.conftest import image, loaded, write_spec


def _collect(session) -> list:
    seen: list = []
    session.on_event = seen.append
    return seen


def _types(seen) -> list[str]:
    return [e.type for e in seen if e.type != "message"]


def test_a_swap_reports_operation_steps_and_gates_with_durations(memory, tmp_path):
    provider, session = memory
    mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "mem", image("1"), session=session)
    seen = _collect(session)
    result = mp.deploy_image(loaded(write_spec(tmp_path / "v2", "2")), "mem", image("2"), strategy="canary",
                             steps=[50, 100], session=session, kind="swap")
    types = _types(seen)
    assert types[0] == "operation.started" and types[-1] == "operation.finished"
    started, finished = seen[0], [e for e in seen if e.type == "operation.finished"][0]
    assert (started.kind, started.operation, started.deployment) == ("swap", result.operation, "demo")
    assert started.steps == len(result.plan.steps)
    assert finished.status == "succeeded" and not finished.undone and finished.duration >= 0
    steps = [e for e in seen if e.type == "step.finished"]
    assert [e.index for e in steps] == list(range(1, len(result.plan.steps) + 1))
    assert all(e.ok and e.duration >= 0 and e.operation == result.operation for e in steps)
    gates = [e for e in seen if e.type == "gate.finished"]
    assert gates and all(g.passed and g.revision == "r2" and g.target == "mem" for g in gates)
    assert types.count("gate.started") == len(gates)
    for event in seen:  # every event is plain JSON with exactly the documented fields
        data = json.loads(json.dumps(event.to_dict()))
        assert list(data) == events.schema()[event.type]


def test_a_failed_gate_reports_its_figures_and_each_undo(memory, tmp_path):
    provider, session = memory
    mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "mem", image("1"), session=session)
    seen = _collect(session)
    bad = write_spec(tmp_path / "v3", "3", extra='[env]\nFAKE_BROKEN = "wrong-shape"\n')
    with pytest.raises(HealthGateFailed) as failed:
        mp.deploy_image(loaded(bad), "mem", image("3"), strategy="blue-green", session=session, kind="swap")
    gate = next(e for e in seen if e.type == "gate.finished")
    assert not gate.passed and gate.figures == {"check": "output_shape", "expected": [2], "actual": [3]}
    undone = [e for e in seen if e.type == "step.undone"]
    assert undone and all(e.ok for e in undone)
    assert [e.index for e in undone] == sorted((e.index for e in undone), reverse=True)
    assert any(e.step == "create_revision" for e in undone)
    end = seen[-1] if seen[-1].type == "operation.finished" else next(e for e in seen if e.type == "operation.finished")
    assert end.status == "failed" and end.undone
    error = failed.value.to_dict()
    assert error["operation"] == end.operation and error["undone"] is True
    assert (error["deployment"], error["target"], error["revision"], error["kind"]) == ("demo", "mem", "r2", "swap")
    assert (error["check"], error["expected"], error["actual"], error["exit_code"]) == ("output_shape", [2], [3], 1)
    assert provider.traffic["mem/demo"] == {"r1": 100}


def test_a_retry_is_an_event(memory, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELPORT_RETRY_ATTEMPTS", "3")
    monkeypatch.setenv("MODELPORT_RETRY_MAX_WAIT", "0.05")
    provider, session = memory
    seen = _collect(session)
    provider.faults = {"set_traffic": 1}
    mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "mem", image("1"), session=session)
    retries = [e for e in seen if e.type == "retry"]
    assert len(retries) == 1
    assert (retries[0].attempt, retries[0].attempts) == (2, 3) and "injected fault" in retries[0].error


def test_without_on_event_the_report_sink_gets_each_event_as_text(memory, tmp_path):
    provider, session = memory
    lines: list[str] = []
    session.report = lines.append
    mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "mem", image("1"), session=session)
    assert lines[0].startswith("deploy of demo started (operation #")
    assert any(line.startswith("[1/") for line in lines)
    assert lines[-1].startswith("deploy of demo succeeded in ")


def test_transfer_progress_counts_bytes_and_rewinds():
    from modelport.engine.images import _Bytes
    from modelport.registry import ProgressEvent

    seen: list = []
    progress = _Bytes(seen.append, "push", "127.0.0.1:5000/m/demo", "demo", every=0)
    for kind, size, nbytes in (("start", 100, 0), ("bytes", 100, 60), ("rewind", 100, 60), ("bytes", 100, 100),
                               ("done", 100, 0), ("skip", 50, 0)):
        progress(ProgressEvent(kind, "sha256:" + "a" * 64, size, nbytes))
    assert all(e.type == "transfer.progress" and e.action == "push" and e.deployment == "demo" for e in seen)
    assert [e.done for e in seen] == [0, 60, 0, 100, 100, 100] and seen[-1].total == 100
