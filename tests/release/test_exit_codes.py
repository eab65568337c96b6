"""Each error a release script meets, through the CLI: its exit code and the fields of its JSON."""

from __future__ import annotations

import json
import os
import re
import socket
import threading

import modelport.api as mp
from modelport.state import StateStore

from tests.engine.conftest import image, loaded, write_spec
from tests.engine.test_journal import _swap_to_v2

from .conftest import journal_killed, lock_by_dead_process

DIGEST_1 = image("1").digest


def _deployed(memory, tmp_path) -> str:
    provider, session = memory
    mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "mem", image("1"), session=session)
    return str(tmp_path / "v1")


def test_locked_by_a_live_process_exits_3_naming_the_holder(memory, tmp_path, cli):
    path = _deployed(memory, tmp_path)
    other = StateStore(memory[1].state.path)
    other.acquire_lock("demo", "modelport swap (a release in CI)")
    try:
        code, out, err = cli("deploy", path, "--to", "other", "--image", DIGEST_1, "-o", "json")
        assert code == 3, err
        error = json.loads(out)
        assert error["error"] == "LockHeld" and error["exit_code"] == 3 and error["stale"] is False
        assert (error["deployment"], error["pid"], error["host"]) == ("demo", os.getpid(), socket.gethostname())
        assert error["holder"] == "modelport swap (a release in CI)"
        assert 0 <= error["heartbeat_age"] < error["lease_ttl"] and error["lease_expired"] is False
        assert "--wait-lock" in error["hint"]
        assert memory[0].writes == [w for w in memory[0].writes if "other" not in w]  # nothing on other
    finally:
        other.release_lock("demo")
        other.close()


def test_wait_lock_waits_for_a_live_holder_then_deploys(memory, tmp_path, cli):
    path = _deployed(memory, tmp_path)
    other = StateStore(memory[1].state.path)
    other.acquire_lock("demo", "modelport swap (a release in CI)")
    code, out, err = cli("deploy", path, "--to", "other", "--image", DIGEST_1, "--wait-lock", "0.5", "-o", "json")
    assert code == 3 and json.loads(out)["waited"] >= 0.5
    assert "waiting for the lock on demo (held by modelport swap" in err
    threading.Timer(1.0, lambda: other.release_lock("demo")).start()
    code, out, err = cli("deploy", path, "--to", "other", "--image", DIGEST_1, "--wait-lock", "60", "-o", "json")
    other.close()
    assert code == 0, err
    assert json.loads(out)["image"]["digest"] == DIGEST_1


def test_a_dead_holders_lock_exits_4(memory, tmp_path, cli):
    path = _deployed(memory, tmp_path)
    lock_by_dead_process(memory[1].state.path)
    code, out, err = cli("deploy", path, "--to", "other", "--image", DIGEST_1, "-o", "json")
    assert code == 4, err
    error = json.loads(out)
    assert error["error"] == "LockHeld" and error["stale"] is True and error["exit_code"] == 4
    assert "--break-lock" in error["hint"]


def test_an_unfinished_operation_exits_4_and_says_what_is_done_left_and_undone(memory, tmp_path, cli):
    path = _deployed(memory, tmp_path)
    steps, context = _swap_to_v2(write_spec(tmp_path / "v2", "2") / "modelport.toml")
    journal_killed(memory[1].state.path, "swap", steps, context, done=3)
    code, out, err = cli("deploy", path, "--to", "mem", "--image", DIGEST_1, "-o", "json")
    assert code == 4, err
    error = json.loads(out)
    assert error["error"] == "UnfinishedOperation" and error["kind"] == "swap" and error["deployment"] == "demo"
    assert [s["index"] for s in error["steps_done"]] == [1, 2, 3]
    assert [s["step"] for s in error["steps_left"]] == ["gate", "record"]
    assert [s["step"] for s in error["abort_would_undo"]] == ["set_traffic", "create_revision"]
    assert error["abort_possible"] is True
    assert "abort would undo: traffic on mem" in err and "left: gate" in err
    code, out, _err = cli("status", "demo", "-o", "json")
    assert code == 4 and json.loads(out)["deployments"][0]["unfinished"]["steps_left"][0]["index"] == 4
    code, out, err = cli("abort", "demo", "-o", "json")  # the same result type as resume
    assert code == 0, err
    aborted = json.loads(out)
    assert aborted["status"] == "aborted" and aborted["operation"] == error["operation"]
    assert aborted["plan"]["kind"] == "swap" and aborted["undone_from_step"] == 4
    assert aborted["revision"] == "r1" and aborted["endpoint"]  # what serves again, as resume says it


def test_an_unknown_digest_exits_2_before_anything_is_journaled(memory, tmp_path, cli):
    path = _deployed(memory, tmp_path)
    before = len(memory[1].state.operations("demo"))
    unknown = "sha256:" + "0" * 64
    code, out, err = cli("deploy", path, "--to", "other", "--image", unknown, "-o", "json")
    assert code == 2, err
    error = json.loads(out)
    assert error["error"] == "ImageNotFound" and error["digest"] == unknown and error["exit_code"] == 2
    code, out, err = cli("deploy", path, "--to", "other", "--image", "sha256:abc", "-o", "json")
    assert code == 2 and "--image" in json.loads(out)["message"]
    assert len(memory[1].state.operations("demo")) == before


def test_a_failed_gate_exits_1_with_its_fields(memory, tmp_path, cli):
    _deployed(memory, tmp_path)
    bad = write_spec(tmp_path / "v3", "3", extra='[env]\nFAKE_BROKEN = "wrong-shape"\n')
    code, out, err = cli("deploy", str(bad), "--to", "mem", "--image", DIGEST_1, "--strategy", "blue-green",
                         "-o", "json")
    assert code == 1, err
    error = json.loads(out)
    assert error["error"] == "HealthGateFailed" and error["undone"] is True and error["exit_code"] == 1
    assert (error["target"], error["revision"], error["check"]) == ("mem", "r2", "output_shape")
    assert isinstance(error["operation"], int)
    assert "gate on mem FAILED" in err  # --output json keeps the progress on stderr
    progress = [line for line in err.splitlines() if line and not line.startswith("error:")]
    assert progress and all(re.match(r"\d\d:\d\d:\d\dZ  ", line) for line in progress), err  # timestamped


def test_events_jsonl_is_one_json_event_per_stderr_line(memory, tmp_path, cli):
    path = _deployed(memory, tmp_path)
    code, out, err = cli("deploy", path, "--to", "other", "--image", DIGEST_1, "--events", "jsonl", "-o", "json")
    assert code == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    kinds = [e["event"] for e in lines]
    assert kinds[0] == "operation.started" and kinds[-1] == "operation.finished"
    assert "step.finished" in kinds and "gate.finished" in kinds
    assert all(isinstance(e["ts"], float) for e in lines)
    assert json.loads(out)["status"] == "succeeded"


def test_promote_deploys_the_digest_serving_on_the_source(memory, tmp_path, cli):
    _deployed(memory, tmp_path)
    code, out, err = cli("promote", "demo", "--from", "mem", "--to", "other", "-o", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["image"]["digest"] == DIGEST_1 and result["plan"]["kind"] == "promote"
    assert (result["source"], result["target"]) == ("mem", "other")
    code, out, err = cli("status", "demo", "--to", "other", "-o", "json")
    revisions = json.loads(out)["deployments"][0]["revisions"]
    assert [r["digest"] for r in revisions] == [DIGEST_1]
    assert revisions[0]["ready"] and revisions[0]["ready_route"] == 200
    code, out, err = cli("promote", "demo", "--from", "mem", "--to", "mem", "-o", "json")
    assert code == 2
