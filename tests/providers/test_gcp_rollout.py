"""Swaps on Cloud Run (emulator) with each strategy, a failed gate, rollbacks: traffic is read back
from the service with the official client before every step (``Session.before_step``, through the
``on_step`` fixture),
and predictions go through the service URL and the revisions' tag URLs."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as gexc

import modelport.api as mp
from modelport.errors import HealthGateFailed
from tests.providers.gcp.helpers import (cloud, gcp_target, modelport_home, read_service, revision_ids,  # noqa: F401
                                         served_version, serving_split, unique, write_project)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


def _tag_uri(cloud, name: str, tag: str) -> str:
    return next(s.uri for s in read_service(cloud, name).traffic_statuses if s.tag == tag)


def test_swap_with_each_strategy(tmp_path, session, cloud, registry, on_step):
    name = unique()
    target = {"gcp": gcp_target(cloud, registry)}
    first = mp.deploy(write_project(tmp_path / "v1", "1", name, target), "gcp", session=session)
    uri = first.endpoint
    assert served_version(uri) == "1"

    # all-at-once: v2 takes all traffic at once
    swapped = mp.swap(write_project(tmp_path / "v2", "2", name, target), "gcp", strategy="all-at-once", session=session)
    assert swapped.revision == "r2" and swapped.endpoint == uri
    assert serving_split(cloud, name) == {f"{name}-r2": 100}
    assert served_version(uri) == "2"

    # blue-green: v1 with another configuration (a new revision), smoke-tested on its tag first
    gates: list[tuple[str, dict]] = []
    on_step.append(lambda i, step: step.op == "gate" and gates.append((step.via, serving_split(cloud, name))))
    blue = mp.swap(write_project(tmp_path / "v1b", "1", name, target, env={"MARKER": "b"}), "gcp",
                   strategy="blue-green", session=session)
    assert blue.revision == "r3"
    assert gates == [("revision", {f"{name}-r2": 100}), ("endpoint", {f"{name}-r3": 100})]
    assert served_version(uri) == "1"
    assert revision_ids(cloud, name) == [f"{name}-r2", f"{name}-r3"], "r1 pruned (keep_revisions = 1)"

    # canary: 10 -> 50 -> 100, percents read back from Cloud Run before each gate
    gates.clear()
    answers: dict[int, set[str]] = {}

    def predict_at_gate(i, step):
        if step.op == "gate" and "endpoint" in step.via:
            split = serving_split(cloud, name)
            answers[split.get(f"{name}-r4", 0)] = {served_version(uri) for _ in range(20)}
            assert served_version(_tag_uri(cloud, name, "r4")) == "2", "the tag URL reaches r4 only"
            assert served_version(_tag_uri(cloud, name, "r3")) == "1", "the tag URL reaches r3 only"

    on_step.append(predict_at_gate)
    canary = mp.swap(write_project(tmp_path / "v2c", "2", name, target, env={"MARKER": "c"}), "gcp", strategy="canary",
                     steps=[10, 50, 100], session=session)
    assert canary.revision == "r4"
    assert gates == [("revision", {f"{name}-r3": 100}),
                     ("revision+endpoint", {f"{name}-r3": 90, f"{name}-r4": 10}),
                     ("revision+endpoint", {f"{name}-r3": 50, f"{name}-r4": 50}),
                     ("revision+endpoint", {f"{name}-r4": 100})]
    assert answers[50] == {"1", "2"}, "a 50/50 split serves both versions through the service URL"
    assert answers[100] == {"2"} and answers[10] <= {"1", "2"}
    assert served_version(uri) == "2"
    [status] = mp.status(name, session=session)
    assert status["traffic"] == {"r4": 100} and [r["name"] for r in status["revisions"]] == ["r3", "r4"]
    mp.destroy(name, "gcp", session=session)


def test_failed_gate_rolls_back_then_rollback(tmp_path, session, cloud, registry, on_step):
    name = unique()
    target = {"gcp": gcp_target(cloud, registry)}
    uri = mp.deploy(write_project(tmp_path / "v1", "1", name, target), "gcp", session=session).endpoint
    mp.swap(write_project(tmp_path / "v2", "2", name, target), "gcp", strategy="blue-green", session=session)
    assert served_version(uri) == "2"

    # a version whose smoke check expects a shape the model does not produce
    seen: list[dict] = []
    on_step.append(lambda i, step: step.op == "gate" and seen.append(serving_split(cloud, name)))
    bad = write_project(tmp_path / "bad", "1", name, target, shape=[3], env={"MARKER": "bad"})
    with pytest.raises(HealthGateFailed, match="shape"):
        mp.swap(bad, "gcp", strategy="all-at-once", session=session)
    assert seen == [{f"{name}-r3": 100}], "the failing gate ran with all traffic on r3"
    assert serving_split(cloud, name) == {f"{name}-r2": 100}, "traffic is back on r2"
    assert revision_ids(cloud, name) == [f"{name}-r1", f"{name}-r2"], "r3 was removed"
    # Cloud Run deletes only retired revisions: the undo re-applied r2's template by name first
    after = read_service(cloud, name)
    assert after.latest_created_revision.endswith(f"/{name}-r2") and after.template.revision == f"{name}-r2"
    assert [t.tag for t in after.traffic if t.tag] == ["r1", "r2"], "r3's tag is gone with it"
    assert served_version(uri) == "2"

    back = mp.rollback(name, "gcp", session=session)
    assert back.revision == "r1" and serving_split(cloud, name) == {f"{name}-r1": 100}
    assert served_version(uri) == "1"
    forward = mp.rollback(name, "gcp", revision="r2", session=session)
    assert forward.revision == "r2" and serving_split(cloud, name) == {f"{name}-r2": 100}
    assert served_version(uri) == "2"
    assert mp.rollback(name, "gcp", revision="r2", session=session).status == "unchanged"
    kinds = [o["kind"] for o in mp.history(name, session=session)["operations"]]
    assert kinds == ["deploy", "swap", "swap", "rollback", "rollback"]
    mp.destroy(name, "gcp", session=session)


def test_revision_that_cannot_start_is_a_failed_gate(tmp_path, session, cloud, registry):
    """Cloud Run reports the revision failed (its operation fails); the gate names the reason and
    the engine removes it: the whole service on a first deploy, only the revision on a swap."""
    name = unique()
    target = {"gcp": gcp_target(cloud, registry)}
    broken = {"MODELPORT_MODEL_PATH": "/nowhere/model.joblib"}  # the server exits at start
    with pytest.raises(HealthGateFailed, match="not ready"):
        mp.deploy(write_project(tmp_path / "bad1", "1", name, target, env=broken), "gcp", session=session)
    with pytest.raises(gexc.NotFound):
        read_service(cloud, name)

    good = mp.deploy(write_project(tmp_path / "v1", "1", name, target), "gcp", session=session)
    assert served_version(good.endpoint) == "1"
    with pytest.raises(HealthGateFailed, match="not ready"):
        mp.swap(write_project(tmp_path / "bad2", "2", name, target, env=broken), "gcp", strategy="canary",
                session=session)
    assert serving_split(cloud, name) == {f"{name}-{good.revision}": 100}
    assert revision_ids(cloud, name) == [f"{name}-{good.revision}"]
    assert read_service(cloud, name).latest_created_revision.endswith(f"/{name}-{good.revision}")
    assert served_version(good.endpoint) == "1"
    mp.destroy(name, "gcp", session=session)
