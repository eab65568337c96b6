"""``state migrate`` holds every deployment's lock in the source store while it copies, so a
writer on another machine fails fast instead of changing a record that is being copied; a live
lock refuses the migration before anything is written; the locks are given back afterwards.
Real SQLite files; the copy is held up by a real exclusive transaction on the destination."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time

import pytest

from modelport.errors import LockHeld
from modelport.state import Holder, StateStore
from modelport.state.transfer import migrate

from .helpers import dead_pid

pytestmark = pytest.mark.timeout(120)


def _store_with(tmp_path, *names: str) -> StateStore:
    store = StateStore(tmp_path / "source.db")
    for name in names:
        store.record_deployment(name, "dev", "local", spec_file="/x/modelport.toml", revision="r1",
                                digest="sha256:1", endpoint="http://e", traffic={"r1": 100})
        store.add_event(name, "deploy", "deployed r1", target="dev")
    return store


def _wait_for(check, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_writer_is_refused_while_the_copy_runs_and_may_write_after(tmp_path):
    source = _store_with(tmp_path, "alpha", "beta")
    dest_path = tmp_path / "dest.db"
    StateStore(dest_path)  # the empty destination, schema made
    blocker = sqlite3.connect(dest_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # holds the copy at the destination until committed
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(migrate(source, str(dest_path))))
    worker.start()
    try:
        other = StateStore(tmp_path / "source.db")  # another machine's view of the source
        _wait_for(lambda: all(other.lock_holder(n) is not None for n in ("alpha", "beta")), "migrate's locks")
        for name in ("alpha", "beta"):
            with pytest.raises(LockHeld) as held:
                other.acquire_lock(name, "modelport swap (another machine)")
            assert "state migrate" in held.value.holder
    finally:
        blocker.execute("COMMIT")
        blocker.close()
        worker.join(60)
    assert result["names"] == ["alpha", "beta"] and result["deployments"] == 2
    assert [d["name"] for d in StateStore(dest_path).deployments()] == ["alpha", "beta"]
    assert source.lock_holder("alpha") is None and source.lock_holder("beta") is None
    other.acquire_lock("alpha", "modelport swap (another machine)")  # free again once copied
    other.release_lock("alpha")


def test_a_live_lock_refuses_the_migration_before_anything_is_written(tmp_path):
    source = _store_with(tmp_path, "alpha", "beta")
    holder = StateStore(tmp_path / "source.db")
    holder.acquire_lock("beta", "modelport swap (running)")
    try:
        with pytest.raises(LockHeld) as held:
            migrate(source, str(tmp_path / "dest.db"))
        assert held.value.deployment == "beta" and "modelport swap (running)" in held.value.holder
        assert source.lock_holder("alpha") is None  # the lock it took on alpha was given back
        assert StateStore(tmp_path / "dest.db").deployments() == []
    finally:
        holder.release_lock("beta")


def test_an_interrupted_operations_stale_lock_is_left_for_resume(tmp_path):
    source = _store_with(tmp_path, "alpha")
    pid = dead_pid()  # a lease taken by a process that has since died, on this host
    source.backend.lock_create("alpha", Holder("modelport deploy (killed)", pid, socket.gethostname(), "x"), 300)
    before = source.lock_holder("alpha")
    result = migrate(source, str(tmp_path / "dest.db"))
    assert result["names"] == ["alpha"]
    after = source.lock_holder("alpha")
    assert after is not None and after.holder == before.holder and after.pid == before.pid
