"""Two real processes on one deployment (local provider, real Docker engine, a real state store:
SQLite, and where marked PostgreSQL, S3 and Azure Blob too): the second fails fast naming the
holder, a stale lock is reported and broken only when its holder is dead, and of two processes
racing to break one stale lock exactly one wins (per backend also in ``tests/state``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from modelport.errors import EXIT_LOCKED, EXIT_UNFINISHED
from modelport.state import Holder, StateStore

from .checks import check, served_version
from .harness import REPO, Case

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]
#: every backend; the slow ones (a real deploy each) only where it proves something new
BACKENDS = ["sqlite", "postgresql", "s3", "azblob"]


def _popen(runner, *args: str, json_output: bool = False) -> subprocess.Popen:
    extra = ["--output", "json"] if json_output else []
    return subprocess.Popen([sys.executable, "-m", "modelport", *args, *extra], env=runner.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_lock(state: StateStore, name: str, proc: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        holder = state.lock_holder(name)
        if holder is not None:
            return holder
        assert proc.poll() is None, f"the first command ended before taking the lock: {proc.communicate()}"
        time.sleep(0.05)
    raise AssertionError("the first command never took the lock")


def _hold_new_revision(name: str, proc: subprocess.Popen) -> list:
    """Wait until ``proc`` started its revision's container, then freeze it (``docker pause``):
    the gate gets no answer and keeps polling, so ``proc`` holds its live lock until the
    container is unpaused, however fast the machine is. Returns the containers, to unpause."""
    import docker

    client = docker.from_env()  # DOCKER_HOST: the engine the local provider uses
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        found = client.containers.list(filters={"label": f"io.modelport.deployment={name}"})
        if found:
            for container in found:
                container.pause()
            return found
        assert proc.poll() is None, f"the first command ended before it started a container: {proc.communicate()}"
        time.sleep(0.1)
    raise AssertionError("the first command never started a container")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("local_runner", BACKENDS, indirect=True)
def test_second_process_fails_fast_naming_the_holder(local_runner):
    case = Case(local_runner, "deploy")
    spec = case.spec("1")
    state = StateStore(local_runner.state)
    first = _popen(local_runner, "deploy", str(spec), "--to", "dev")
    try:
        holder = _wait_for_lock(state, case.name, first)
        assert holder["pid"] == first.pid
        held = _hold_new_revision(case.name, first)
        for args in (["deploy", str(spec), "--to", "dev"], ["swap", str(spec), "--to", "dev", "--break-lock"]):
            second = subprocess.run([sys.executable, "-m", "modelport", *args], env=local_runner.env(),
                                    capture_output=True, text=True, timeout=300)
            # it failed while the first was still at work, before building anything: its only
            # output is the error line naming the holder (no build or step progress)
            assert first.poll() is None, "the first command finished before the second failed"
            assert second.returncode == EXIT_LOCKED, second.stderr  # locked by a live process
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1, second.stderr
            assert f"is locked by modelport deploy (pid {first.pid} on {socket.gethostname()})" in lines[0]
            assert "wait for it to finish" in lines[0] and "no longer running" not in lines[0]
        assert state.lock_holder(case.name)["pid"] == first.pid  # --break-lock left a live lock alone
        for container in held:
            container.unpause()  # the first deploy's gate passes now
        out, err = first.communicate(timeout=600)
        assert first.returncode == 0, err
        assert check(local_runner.session(), case.name, spec, {"dev": "1"}) == []
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        case.clean()


def test_two_processes_started_together_one_runs(local_runner):
    """Started at the same moment, one deploys and the other fails before building anything."""
    case = Case(local_runner, "deploy")
    spec = case.spec("1")
    procs = [_popen(local_runner, "deploy", str(spec), "--to", "dev") for _ in range(2)]
    try:
        results = [(p.pid, p.wait(timeout=600), *p.communicate()) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    try:
        assert sorted(code for _pid, code, _out, _err in results) == [0, EXIT_LOCKED], results
        (winner, _code, _out, winner_err), (_pid, _code, _out, loser_err) = sorted(results, key=lambda r: r[1])
        assert "probing base image" in winner_err  # the build reports its progress...
        lines = loser_err.strip().splitlines()  # ...the loser never started one
        assert len(lines) == 1 and f"is locked by modelport deploy (pid {winner} on" in lines[0], loser_err
        assert check(local_runner.session(), case.name, spec, {"dev": "1"}) == []
    finally:
        case.clean()


@pytest.mark.parametrize("local_runner", ["sqlite", "postgresql"], indirect=True)
def test_stale_lock_is_reported_and_broken_only_when_its_holder_is_dead(local_runner):
    case = Case(local_runner, "swap:blue-green")
    spec = case.spec("1")
    # the holder takes the lock and is SIGKILLed before it journals anything
    killed = local_runner.drive({"op": "deploy", "spec": str(spec), "target": "dev", "image": case.images["1"],
                                 "kill": "begin"})
    assert killed.returncode == -9, killed.stderr
    try:
        state = StateStore(local_runner.state)
        holder = state.lock_holder(case.name)
        assert holder is not None and state.unfinished(case.name) is None
        refused = local_runner.cli("deploy", str(spec), "--to", "dev")
        assert refused.returncode == EXIT_UNFINISHED  # its holder is dead: recover
        error = json.loads(refused.stdout)
        assert error["error"] == "LockHeld"
        assert f"pid {holder['pid']} on {holder['host']}" in error["message"]
        assert "no longer running" in error["message"] and "--break-lock" in error["hint"]
        broke = local_runner.cli("swap", str(spec), "--to", "dev", "--break-lock")
        assert broke.returncode == 0, broke.stderr
        assert served_version(json.loads(broke.stdout)["endpoint"]) == "1"
        assert check(local_runner.session(), case.name, spec, {"dev": "1"}) == []
    finally:
        case.clean()


@pytest.mark.parametrize("local_runner", BACKENDS, indirect=True)
def test_break_lock_never_breaks_a_lock_held_elsewhere(local_runner):
    """A holder on another host cannot be checked: while its lease lives it counts as alive."""
    case = Case(local_runner, "deploy")
    spec = case.spec("1")
    StateStore(local_runner.state).backend.lock_create(
        case.name, Holder("modelport swap (pid 1 on ci-runner-7)", 1, "ci-runner-7", "ci"), 600)
    refused = local_runner.cli("deploy", str(spec), "--to", "dev", "--break-lock")
    assert refused.returncode == EXIT_LOCKED  # a live lease elsewhere
    error = json.loads(refused.stdout)
    assert error["error"] == "LockHeld" and "ci-runner-7" in error["message"]
    assert "no longer running" not in error["message"] and "expired" not in error["message"]
    assert StateStore(local_runner.state).lock_holder(case.name)["host"] == "ci-runner-7"


RACER = """
import json, sys, time
from modelport.errors import LockHeld
from modelport.state import StateStore
path, name, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
store = StateStore(path)
while time.time() < start:  # both racers try at the same moment
    pass
try:
    store.acquire_lock(name, "racer", break_stale=True)
    print("won", flush=True)
except LockHeld as exc:
    print("lost " + exc.message, flush=True)
sys.stdin.read()  # hold the lock (stay alive) until the parent has both answers
"""


def test_racing_to_break_a_stale_lock_exactly_one_wins(tmp_path):
    path, name = tmp_path / "state.db", "raced"
    store = StateStore(path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for _round in range(8):
        lock = store.lock_holder(name)
        if lock is not None:
            store.backend.lock_release(name, lock.version)
        store.backend.lock_create(name, Holder("modelport deploy (killed)", _dead_pid(), socket.gethostname(), "x"),
                                  600)
        start = time.time() + 1.5
        racers = [subprocess.Popen([sys.executable, "-c", RACER, str(path), name, str(start)], env=env,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        try:
            answers = [r.stdout.readline().strip() for r in racers]
            winners = [r.pid for r, a in zip(racers, answers) if a == "won"]
            assert len(winners) == 1, answers
            loser = next(a for a in answers if a != "won")
            assert loser.startswith("lost ") and f"(pid {winners[0]} on" in loser, answers
            assert store.lock_holder(name)["pid"] == winners[0]
        finally:
            for r in racers:
                r.communicate(input="", timeout=60)


@pytest.mark.parametrize("local_runner", ["sqlite", "s3"], indirect=True)
def test_racing_resume_and_abort_exactly_one_acts(local_runner):
    case = Case(local_runner, "swap:blue-green")
    case.prepare()  # v1 then v2 serving
    try:
        job = {**case.job(), "kill": "before", "at": 2}  # the new revision is up, traffic not moved
        assert local_runner.drive(job).returncode == -9
        racers = [_popen(local_runner, verb, case.name, json_output=True) for verb in ("resume", "abort")]
        results = [(verb, p.wait(timeout=600), *p.communicate()) for verb, p in zip(("resume", "abort"), racers)]
        # the loser finds the lock held by the live winner (3) or, after it, nothing to do (2)
        assert sorted(code for _v, code, _o, _e in results) in ([0, EXIT_LOCKED], [0, 2]), results
        winner = next(verb for verb, code, _o, _e in results if code == 0)
        loser_error = json.loads(next(out for _v, code, out, _e in results if code != 0))
        assert loser_error["error"] in ("LockHeld", "NotFound"), loser_error
        ops = local_runner.session().state.operations(case.name)
        assert ops[-1].status == ("succeeded" if winner == "resume" else "aborted")
        events = [e["message"] for e in local_runner.session().state.events(case.name) if e["operation"] == ops[-1].id]
        assert sum(("resumed" in m) or ("aborted" in m) for m in events) == 1, events
        expect = case.other if winner == "resume" else case.current
        assert check(local_runner.session(), case.name, case.specs[-1], {"dev": expect}) == []
    finally:
        case.clean()
