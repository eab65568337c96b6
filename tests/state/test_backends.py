"""Every state backend keeps the same records and the same lease rules, against real servers
(SQLite files, PostgreSQL, moto's S3 server, Azurite): records and the journal read back alike;
a live lease is never broken, an expired or dead one only when asked; a heartbeat keeps a lease
alive past its length; of two processes breaking a stale lease exactly one wins; a process whose
lease was broken cannot write afterwards (fencing)."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from modelport.errors import LockHeld
from modelport.state import RUNNING, SUCCEEDED, Holder, StateStore

from .helpers import HOLDER, RACER, dead_pid, python, ttl_for

ALL = ["sqlite", "postgresql", "s3", "azblob"]
pytestmark = pytest.mark.timeout(300)


def _fill(store: StateStore, name: str) -> int:
    store.acquire_lock(name, "modelport deploy (test)")
    op = store.begin_operation(name, "deploy", ["dev"], "modelport deploy (test)", [{"op": "a"}, {"op": "b"}],
                               {"spec_file": "/x/modelport.toml"})
    store.set_lock_operation(name, op)
    store.record_revision(name, "dev", "r1", "sha256:1", '{"ref": null}', "c1", "1.0.0", spec={"revision": "r1"})
    store.step_done(op, 1, {"k": "v"})
    store.record_deployment(name, "dev", "local", spec_file="/x/modelport.toml", revision="r1",
                            digest="sha256:1", endpoint="http://e", traffic={"r1": 100})
    store.add_event(name, "create_revision", "create r1", target="dev", operation=op, data={"revision": "r1"})
    store.record_revision(name, "dev", "r2", "sha256:2", None, "c2", "2.0.0")
    store.mark_revision_deleted(name, "dev", "r1")
    store.record_deployment(name, "dev", "local", spec_file=None, revision="r2", digest="sha256:2",
                            endpoint="http://e2", traffic={"r2": 100})
    store.step_done(op, 2)
    store.finish_operation(op, SUCCEEDED)
    store.release_lock(name)
    return op


@pytest.mark.parametrize("state_target", ALL, indirect=True)
def test_records_and_journal_read_back_alike(state_target):
    store = StateStore(state_target.url)
    op = _fill(store, "alpha")
    _fill(store, "beta")
    again = StateStore(state_target.url)  # another process's view
    (dep,) = again.deployments("alpha")
    assert (dep["revision"], dep["traffic"], dep["spec_file"], dep["endpoint"]) == \
        ("r2", {"r2": 100}, "/x/modelport.toml", "http://e2")  # spec_file kept when recorded as None
    assert [d["name"] for d in again.deployments()] == ["alpha", "beta"]
    assert [d["name"] for d in again.deployments(target="dev")] == ["alpha", "beta"]
    revs = again.revisions("alpha", "dev")
    assert [(r["revision"], r["deleted"] is not None, r["model_version"]) for r in revs] == \
        [("r1", True, "1.0.0"), ("r2", False, "2.0.0")]
    (operation,) = again.operations("alpha")
    assert (operation.id, operation.status, operation.done, operation.context) == (op, SUCCEEDED, 2, {"k": "v"})
    assert again.operation(op).plan == [{"op": "a"}, {"op": "b"}]
    assert [(e["kind"], e["data"]) for e in again.events("alpha")] == [("create_revision", {"revision": "r1"})]
    assert again.lock_holder("alpha") is None and again.unfinished("alpha") is None
    again.forget_deployment("alpha", "dev")
    assert again.deployments("alpha") == [] and all(r["deleted"] for r in again.revisions("alpha"))


@pytest.mark.parametrize("state_target", ALL, indirect=True)
def test_a_live_lease_names_its_holder_and_is_never_broken(state_target):
    first, second = StateStore(state_target.url), StateStore(state_target.url)
    first.acquire_lock("busy", f"modelport swap (pid {os.getpid()} on {socket.gethostname()})")
    try:
        for break_stale in (False, True):
            with pytest.raises(LockHeld) as held:
                second.acquire_lock("busy", "modelport deploy", break_stale=break_stale)
            message = held.value.message
            assert f"modelport swap (pid {os.getpid()} on {socket.gethostname()})" in message
            assert "lease renewed" in message and not held.value.stale
        with pytest.raises(LockHeld):
            second.check_lock("busy")
        # a holder on another machine cannot be asked whether it runs: alive until its lease expires
        second.backend.lock_create("remote", Holder("modelport swap (pid 7 on ci-runner-7)", 7, "ci-runner-7",
                                                    "ci"), 300)
        with pytest.raises(LockHeld) as remote:
            second.acquire_lock("remote", "modelport deploy", break_stale=True)
        assert "ci-runner-7" in remote.value.message and " as ci" in remote.value.message
        assert second.lock_holder("remote")["host"] == "ci-runner-7"
    finally:
        first.release_lock("busy")
    assert first.lock_holder("busy") is None


@pytest.mark.parametrize("state_target", ALL, indirect=True)
def test_a_dead_holder_on_this_host_is_stale_at_once(state_target):
    store = StateStore(state_target.url)
    pid = dead_pid()
    store.backend.lock_create("dead", Holder(f"modelport deploy (pid {pid} on {socket.gethostname()})", pid,
                                             socket.gethostname(), "someone"), 300)
    op = store.backend.insert_operation({"name": "dead", "kind": "deploy", "targets": "[]", "status": RUNNING,
                                         "holder": "x", "pid": pid, "host": socket.gethostname(), "plan": "[]",
                                         "done": 0, "undone": 0, "context": "{}", "error": None,
                                         "started": time.time(), "finished": None}, None)
    assert store.unfinished("dead").id == op
    with pytest.raises(LockHeld) as refused:
        store.acquire_lock("dead", "modelport deploy")
    assert refused.value.stale and "no longer running" in refused.value.message
    store.acquire_lock("dead", "modelport resume", break_stale=True)
    assert store.lock_holder("dead")["pid"] == os.getpid()
    store.release_lock("dead")


@pytest.mark.slow
@pytest.mark.parametrize("state_target", ALL, indirect=True)
def test_a_heartbeat_keeps_the_lease_and_a_silent_one_expires(state_target):
    ttl = ttl_for(state_target.kind)
    holder = StateStore(state_target.url, ttl=ttl)
    holder.acquire_lock("kept", "modelport swap")
    other = StateStore(state_target.url, ttl=ttl)
    # a lease taken elsewhere and never renewed (its machine died)
    other.backend.lock_create("silent", Holder("modelport swap (pid 9 on gone-host)", 9, "gone-host", "ci"), ttl)
    with pytest.raises(LockHeld):
        other.acquire_lock("silent", "modelport deploy", break_stale=True)
    time.sleep(ttl * 1.6 + 1)
    kept = other.lock_holder("kept")
    assert kept is not None and not kept.expired, kept
    silent = other.lock_holder("silent")
    assert silent.expired, silent
    with pytest.raises(LockHeld) as stale:
        other.acquire_lock("silent", "modelport deploy")
    assert stale.value.stale and "lease expired" in stale.value.message
    other.acquire_lock("silent", "modelport deploy", break_stale=True)
    assert other.lock_holder("silent")["host"] == socket.gethostname()
    holder.release_lock("kept")
    other.release_lock("silent")


@pytest.mark.slow
@pytest.mark.parametrize("state_target", ALL, indirect=True)
def test_a_holder_whose_lease_was_broken_cannot_write(state_target):
    ttl = ttl_for(state_target.kind)
    first = python(HOLDER, state_target.url, str(ttl), "fenced")
    try:
        op = int(first.stdout.readline())
        os.kill(first.pid, signal.SIGSTOP)  # paused: no heartbeat, as a machine cut off the network
        second = StateStore(state_target.url, ttl=ttl)
        deadline = time.monotonic() + ttl * 3 + 10
        while not second.lock_holder("fenced").expired:
            assert time.monotonic() < deadline, "the paused holder's lease never expired"
            time.sleep(0.5)
        assert second.unfinished("fenced").id == op
        second.acquire_lock("fenced", "modelport abort", break_stale=True)
        second.adopt_operation(op)
        second.finish_operation(op, "aborted")
        os.kill(first.pid, signal.SIGCONT)
        out, err = first.communicate("go\n", timeout=120)
    finally:
        if first.poll() is None:
            os.kill(first.pid, signal.SIGCONT)
            first.kill()
    assert out.startswith("fenced ") and "taken over by another process" in out, (out, err)
    after = second.operation(op)
    assert (after.status, after.done) == ("aborted", 0)  # the old holder's write did not land
    assert second.lock_holder("fenced")["pid"] == os.getpid()
    second.release_lock("fenced")


@pytest.mark.parametrize("state_target", ALL, indirect=True)
def test_racing_to_break_a_stale_lease_exactly_one_wins(state_target):
    store = StateStore(state_target.url)
    rounds = 4 if state_target.kind == "sqlite" else 2
    for round_ in range(rounds):
        name = f"raced{round_}"
        pid = dead_pid()
        store.backend.lock_create(name, Holder("modelport deploy (killed)", pid, socket.gethostname(), "x"), 300)
        start = time.time() + 2.0
        racers = [python(RACER, state_target.url, name, str(start)) for _ in range(2)]
        try:
            answers = [r.stdout.readline().strip() for r in racers]
            winners = [r.pid for r, a in zip(racers, answers) if a == "won"]
            assert len(winners) == 1, (answers, [r.stderr.read() if r.poll() is not None else "" for r in racers])
            loser = next(a for a in answers if a != "won")
            assert loser.startswith("lost ") and f"pid {winners[0]} on" in loser, answers
            assert store.lock_holder(name)["pid"] == winners[0]
        finally:
            for r in racers:
                r.communicate(input="", timeout=60)
