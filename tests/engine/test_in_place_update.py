"""All-at-once on a provider that updates a revision in place (capabilities.in_place_update, like
Azure Container Instances): the serving revision is replaced (update_revision step, plan note),
no second revision is created, and a failed gate restores the previous revision's spec."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

import modelport.api as mp
from modelport.engine import planner
from modelport.errors import HealthGateFailed
from modelport.provider import Revision, RevisionSpec, Target
from modelport.testing.memory import MemoryProvider, _revision_handler, _Server

from .conftest import SAMPLE, image, loaded, memory_session, write_spec


class InPlaceProvider(MemoryProvider):
    """The in-memory provider without traffic split, updating revisions in place."""

    def __init__(self) -> None:
        super().__init__(split=False)
        self.capabilities = replace(self.capabilities, in_place_update=True)

    def update_revision(self, target: Target, current: str, rev: RevisionSpec) -> Revision:
        self._call("update_revision")
        self.writes.append(f"update_revision {current} -> {rev.revision}")
        key = f"{target.name}/{rev.deployment}"
        revs = self.revisions.setdefault(key, {})
        old = revs.pop(current, None)
        if old:
            old[1].stop()
        revs[rev.revision] = (rev, _Server(_revision_handler(rev, rev.env.get("FAKE_BROKEN"))))
        weights = self.traffic.get(key, {})
        if current in weights:
            weights[rev.revision] = weights.pop(current)
        return Revision(rev.revision, rev.image.digest, rev.config, True, revs[rev.revision][1].url)


@pytest.fixture
def in_place(tmp_path):
    provider = InPlaceProvider()
    with memory_session(tmp_path, provider) as session:
        yield provider, session


def answer(endpoint: str) -> str:
    return httpx.post(f"{endpoint}/v2/models/demo/infer", json=SAMPLE, timeout=5).json()["outputs"][0]["data"][0]


def deploy(session, folder, version, strategy="all-at-once"):
    return mp.deploy_image(loaded(folder), "mem", image(version), strategy=strategy, steps=None, session=session)


def test_all_at_once_updates_in_place(in_place, tmp_path):
    provider, session = in_place
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    plan = planner.deploy(session, loaded(write_spec(tmp_path / "v2", "2")), "mem", image("2"), strategy="all-at-once")
    assert [s.op for s in plan.steps] == ["update_revision", "wait_ready", "gate", "record"]
    assert plan.notes == ("updates r1 in place: the container restarts",)
    assert plan.steps[0].current == "r1" and plan.steps[0].previous_rev["revision"] == "r1"

    result = deploy(session, tmp_path / "v2", "2")
    assert result.revision == "r2" and answer(result.endpoint) == "2"
    assert "update_revision r1 -> r2" in provider.writes
    assert not [w for w in provider.writes if w.startswith("create_revision r2")]
    assert set(provider.revisions["mem/demo"]) == {"r2"}
    live = {r["revision"] for r in session.state.revisions("demo", "mem") if not r["deleted"]}
    assert live == {"r2"}


def test_failed_gate_restores_the_previous_revision(in_place, tmp_path):
    provider, session = in_place
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    broken = write_spec(tmp_path / "v2", "2", extra="[env]\nFAKE_BROKEN = \"wrong-shape\"\n")
    with pytest.raises(HealthGateFailed):
        deploy(session, broken, "2")
    assert set(provider.revisions["mem/demo"]) == {"r1"} and provider.traffic["mem/demo"] == {"r1": 100}
    assert answer(provider.routers["mem/demo"].url) == "1"
    live = {r["revision"] for r in session.state.revisions("demo", "mem") if not r["deleted"]}
    assert live == {"r1"}


def test_blue_green_still_creates_a_new_revision(in_place, tmp_path):
    provider, session = in_place
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    result = deploy(session, write_spec(tmp_path / "v2", "2"), "2", "blue-green")
    assert result.revision == "r2" and "create_revision r2" in provider.writes
    assert not [w for w in provider.writes if w.startswith("update_revision")]
