"""Every strategy on the in-memory provider: plans, gates, traffic steps, and rollback when any
primitive fails. Predictions are checked through the deployment's endpoint after each step."""

from __future__ import annotations

import httpx
import pytest

import modelport.api as mp
from modelport.engine import planner
from modelport.errors import CapabilityError, HealthGateFailed, ModelportError, ProviderError

from modelport.provider import Target

from .conftest import SAMPLE, image, loaded, memory_session, write_spec

MEM = Target("mem", "memory", None)


def answer(endpoint: str) -> str:
    reply = httpx.post(f"{endpoint}/v2/models/demo/infer", json=SAMPLE, timeout=5).json()
    return reply["outputs"][0]["data"][0]


def deploy(session, folder, version, strategy=None, steps=None):
    return mp.deploy_image(loaded(folder), "mem", image(version), strategy=strategy, steps=steps, session=session)


def test_first_deploy_then_noop(memory, tmp_path):
    provider, session = memory
    folder = write_spec(tmp_path / "v1", "1")
    plan = planner.deploy(session, loaded(folder), "mem", image("1"))
    assert [s.op for s in plan.steps] == ["ensure_infra", "create_revision", "wait_ready", "set_traffic",
                                            "gate", "record"]
    result = deploy(session, folder, "1")
    assert result.status == "succeeded" and result.revision == "r1"
    assert answer(result.endpoint) == "1"
    writes = list(provider.writes)
    reads, observe = [], provider.observe
    provider.observe = lambda target, name: reads.append(name) or observe(target, name)
    again = deploy(session, folder, "1")
    assert again.status == "unchanged" and again.plan.empty
    assert provider.writes == writes, "an unchanged redeploy must make no write call"
    # one read of the deployment: what the plan saw is what the result reports
    assert reads == [again.plan.deployment] and (again.endpoint, again.revision) == (result.endpoint, "r1")


@pytest.mark.parametrize("strategy,expected", [
    ("all-at-once", [{"r2": 100}]),
    ("blue-green", [{"r2": 100}]),
    ("canary", [{"r1": 90, "r2": 10}, {"r1": 50, "r2": 50}, {"r2": 100}]),
])
def test_swap_moves_traffic_by_strategy(memory, tmp_path, strategy, expected):
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    provider.traffic_log.clear()
    seen = []

    def check(_i, step):  # before each step: the endpoint answers with a served version
        if step.op == "gate":
            seen.append((dict(provider.traffic["mem/demo"]), answer(provider.routers["mem/demo"].url)))

    session.before_step = check
    result = deploy(session, write_spec(tmp_path / "v2", "2"), "2", strategy, [10, 50, 100])
    assert provider.traffic_log == expected
    assert result.revision == "r2" and answer(result.endpoint) == "2"
    for weights, version in seen:
        assert weights.get(f"r{version}", 0) > 0
    assert set(provider.revisions["mem/demo"]) == {"r1", "r2"}  # keep_revisions=1 keeps the previous


def test_prune_beyond_keep(memory, tmp_path):
    provider, session = memory
    for v in "123":
        deploy(session, write_spec(tmp_path / f"v{v}", v), v)
    assert set(provider.revisions["mem/demo"]) == {"r2", "r3"}


@pytest.mark.parametrize("strategy", ["all-at-once", "blue-green", "canary"])
def test_failed_gate_rolls_back(memory, tmp_path, strategy):
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    bad = write_spec(tmp_path / "v2", "2", extra='[env]\nFAKE_BROKEN = "wrong-shape"\n')
    with pytest.raises(HealthGateFailed) as err:
        deploy(session, bad, "2", strategy, [10, 50, 100])
    assert "rolled back" in str(err.value)
    assert provider.traffic["mem/demo"] == {"r1": 100}
    assert set(provider.revisions["mem/demo"]) == {"r1"}
    assert answer(provider.routers["mem/demo"].url) == "1"
    op = session.state.operations("demo")[-1]
    assert op.status == "failed" and "shape" in op.error


def test_never_ready_fails_gate_within_timeout(memory, tmp_path):
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    bad = write_spec(tmp_path / "v2", "2", extra='[env]\nFAKE_BROKEN = "never-ready"\n')
    with pytest.raises(HealthGateFailed, match="not ready after"):
        mp.deploy_image(loaded(bad), "mem", image("2"), strategy="blue-green", gate_timeout=1, session=session)
    assert provider.traffic["mem/demo"] == {"r1": 100}


def _write_calls(provider, session, tmp_path, strategy):
    """How often each primitive is called by a successful swap with ``strategy``."""
    provider.calls.clear()
    deploy(session, write_spec(tmp_path / "probe-v2", "2"), "2", strategy, [10, 50, 100])
    calls = dict(provider.calls)
    mp.rollback("demo", "mem", revision="r1", spec=tmp_path / "v1", session=session)
    for rev in [r for r in provider.revisions["mem/demo"] if r != "r1"]:
        provider.delete_revision(MEM, "demo", rev)
    return calls


@pytest.mark.parametrize("strategy", ["all-at-once", "blue-green", "canary"])
def test_fault_at_every_primitive_call_rolls_back(memory, tmp_path, strategy):
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    calls = _write_calls(provider, session, tmp_path, strategy)
    tried = 0
    for primitive in ("create_revision", "health", "set_traffic", "delete_revision"):
        for n in range(1, calls.get(primitive, 0) + 1):
            provider.calls.clear()
            provider.faults = {primitive: n}
            try:
                deploy(session, write_spec(tmp_path / f"v2-{primitive}-{n}", "2"), "2", strategy, [10, 50, 100])
            except ModelportError:
                pass
            finally:
                provider.faults = {}
            tried += 1
            traffic = provider.traffic["mem/demo"]
            # either completed on r_new, or rolled back to r1 with nothing new left behind
            if traffic == {"r1": 100}:
                assert set(provider.revisions["mem/demo"]) == {"r1"}, (primitive, n)
            else:
                assert list(traffic.values()) == [100] and answer(provider.routers["mem/demo"].url) == "2"
                mp.rollback("demo", "mem", revision="r1", spec=tmp_path / "v1", session=session)
                for rev in [r for r in provider.revisions["mem/demo"] if r != "r1"]:
                    provider.delete_revision(MEM, "demo", rev)
            assert answer(provider.routers["mem/demo"].url) == "1"
            assert session.state.lock_holder("demo") is None
    assert tried >= 4


def test_canary_refused_without_split(tmp_path):
    from modelport.testing.memory import MemoryProvider

    provider = MemoryProvider(split=False)
    with memory_session(tmp_path, provider) as session:
        deploy(session, write_spec(tmp_path / "v1", "1"), "1")
        writes = list(provider.writes)
        with pytest.raises(CapabilityError, match="cannot split traffic") as err:
            deploy(session, write_spec(tmp_path / "v2", "2"), "2", "canary")
        assert "blue-green" in err.value.hint
        assert provider.writes == writes
        result = deploy(session, write_spec(tmp_path / "v2", "2"), "2", "blue-green")
        assert answer(result.endpoint) == "2"


def test_rollback_to_previous_and_named(memory, tmp_path):
    provider, session = memory
    v1 = write_spec(tmp_path / "v1", "1")
    deploy(session, v1, "1")
    deploy(session, write_spec(tmp_path / "v2", "2"), "2", "blue-green")
    result = mp.rollback("demo", "mem", spec=v1, session=session)
    assert result.revision == "r1" and answer(result.endpoint) == "1"
    result = mp.rollback("demo", "mem", revision="r2", spec=v1, session=session)
    assert answer(result.endpoint) == "2"
    with pytest.raises(ModelportError, match="no revision 'r9'"):
        mp.rollback("demo", "mem", revision="r9", spec=v1, session=session)


def test_lock_held_fails_fast_naming_holder(memory, tmp_path):
    provider, session = memory
    folder = write_spec(tmp_path / "v1", "1")
    session.state.acquire_lock("demo", "release-script (test)")
    try:
        with pytest.raises(ModelportError, match="locked by release-script"):
            deploy(session, folder, "1")
    finally:
        session.state.release_lock("demo")


def test_history_records_every_traffic_change(memory, tmp_path):
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    deploy(session, write_spec(tmp_path / "v2", "2"), "2", "canary", [25, 100])
    data = mp.history("demo", session=session)
    weights = [e["data"]["weights"] for e in data["events"] if e["kind"] == "set_traffic"]
    assert weights == [{"r1": 100}, {"r1": 75, "r2": 25}, {"r2": 100}]
    assert [o["status"] for o in data["operations"]] == ["succeeded", "succeeded"]


def test_provider_error_is_typed(memory, tmp_path):
    provider, session = memory
    provider.faults = {"create_revision": 0}
    with pytest.raises(ProviderError, match="injected fault"):
        deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    assert provider.revisions.get("demo", {}) == {}


def test_gc_lists_and_deletes_orphans(memory, tmp_path):
    provider, session = memory
    folder = write_spec(tmp_path / "v1", "1")
    deploy(session, folder, "1")
    # a revision created behind modelport's back, for a deployment nobody recorded
    from dataclasses import replace

    from modelport.engine.revision import revision_spec
    stray = replace(revision_spec(loaded(folder).spec, image("9"), "r7"), deployment="ghost")
    provider.create_revision(MEM, stray)
    found = mp.gc(folder, "mem", session=session)
    assert [(r["deployment"], r["revision"], r["deleted"]) for r in found] == [("ghost", "r7", False)]
    assert provider.revisions["mem/ghost"]
    deleted = mp.gc(folder, "mem", delete=True, session=session)
    assert deleted[0]["deleted"] and not provider.revisions["mem/ghost"]
    assert [(o.kind, o.status) for o in session.state.operations("ghost")] == [("gc", "succeeded")]  # journaled
    assert mp.gc(folder, session=session) == []
    assert answer(provider.routers["mem/demo"].url) == "1"


def test_lock_checked_before_any_work(memory, tmp_path):
    provider, session = memory
    import subprocess
    import sys
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        import sqlite3
        with sqlite3.connect(session.state.path) as db:
            now = __import__("time").time()  # a live lease: heartbeat now, 60 s long
            db.execute("INSERT INTO locks (name, holder, pid, host, operation, acquired, username, token, heartbeat, ttl)"
                       " VALUES (?,?,?,?,?,?,?,?,?,?)",
                       ("demo", "modelport swap (elsewhere)", holder.pid, __import__("socket").gethostname(), None, now,
                        "someone", "token-of-the-other-process", now, 60.0))
        with pytest.raises(ModelportError, match=f"locked by modelport swap \\(elsewhere\\) \\(pid {holder.pid}"):
            session.state.check_lock("demo")
        # a dead holder is not a reason to fail before building; apply reports it as stale
        holder.kill()
        holder.wait()
        session.state.check_lock("demo")
    finally:
        if holder.poll() is None:
            holder.kill()
