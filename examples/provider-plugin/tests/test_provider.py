"""The Swarm provider against a real swarm: what the conformance suite does not look at (Swarm's
own objects, traffic marker, logs, failing tasks, error mapping, in-place update and its undo)."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

import modelport.api as mp
from modelport.engine.revision import from_data, with_config
from modelport.engine.session import Session
from modelport.errors import CapabilityError, HealthGateFailed, ProviderError
from modelport.plugins import load_providers
from modelport.provider import TAG_DEPLOYMENT, TAG_DIGEST, TAG_REVISION, ImageRef, Target
from modelport.state import StateStore
from modelport.testing.harness import ConformanceTarget, write_project

from swarm_testing import BASE_IMAGE, plugins

SETTINGS = {"provider": "swarm", "reserve": 0.1}
SAMPLE_ROWS = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


class Env:
    """One deployment on the session's swarm target, driven through modelport's API."""

    def __init__(self, root, target_name: str, settings: dict) -> None:
        self.ct = ConformanceTarget(settings=settings, base_image=BASE_IMAGE,
                                    resources={"cpu": 0.5, "memory": "512Mi"})
        self.root, self.target_name = root, target_name
        self.name = f"s{int(time.time() * 1000) % 10**7:07d}"
        self.session = Session(state=StateStore(root / "state.db"), providers=load_providers(plugins()))
        self.provider = self.session.providers.get("swarm")
        self.target = Target(target_name, "swarm", self.provider.settings_model.model_validate(
            {k: v for k, v in settings.items() if k != "provider"}))

    def project(self, version: int, folder: str | None = None, **variant):
        return write_project(self.root / (folder or f"v{version}"), self.ct, self.name, version,
                             targets={self.target_name: self.ct.settings}, **variant)

    def observe(self):
        return self.provider.observe(self.target, self.name)

    def scale(self, endpoint: str) -> float:
        """The model version's factor, read from a prediction at ``endpoint``."""
        import httpx

        body = {"inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP64", "data": SAMPLE_ROWS}]}
        reply = httpx.post(f"{endpoint}/v2/models/conformance/infer", json=body, timeout=30).json()
        return reply["outputs"][0]["data"][0] / 6.0


@pytest.fixture(scope="module")
def env(tmp_path_factory, target_name):
    deployed = Env(tmp_path_factory.mktemp("swarm"), target_name, SETTINGS)
    mp.deploy(deployed.project(1), target_name, session=deployed.session)
    try:
        yield deployed
    finally:
        deployed.provider.destroy(deployed.target, deployed.name)


def wait(probe, what: str, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} after {timeout}s"
        time.sleep(1)


def test_a_revision_is_a_labelled_host_network_service(env, swarm_engine):
    observed = env.observe()
    assert observed.traffic == {"r1": 100} and observed.endpoint.startswith("http://127.1.")
    [service] = swarm_engine.services.list(filters={"label": f"{TAG_DEPLOYMENT}={env.name}"})
    spec = service.attrs["Spec"]
    assert spec["Name"] == f"mp-{env.target_name}-{env.name}-r1"
    assert spec["Labels"][TAG_REVISION] == "r1" and spec["Labels"][TAG_DIGEST] == observed.revisions[0].digest
    task = spec["TaskTemplate"]
    assert task["ContainerSpec"]["Labels"][TAG_REVISION] == "r1", "containers carry the tags too"
    assert task["Resources"]["Limits"] == {"NanoCPUs": 500_000_000, "MemoryBytes": 512 * 2**20}
    assert task["Resources"]["Reservations"]["NanoCPUs"] == 50_000_000
    assert "/v2/health/ready" in task["ContainerSpec"]["Healthcheck"]["Test"][-1]
    containers = swarm_engine.containers.list(filters={"label": f"com.docker.swarm.service.id={service.id}"})
    assert [c.attrs["State"]["Health"]["Status"] for c in containers] == ["healthy"], "Swarm's own probe passes"
    assert spec["UpdateConfig"]["FailureAction"] == "rollback"
    assert env.scale(observed.endpoint) == 1.0
    [resource] = [r for r in env.provider.list_resources(env.target) if r.deployment == env.name]
    assert (resource.kind, resource.id, resource.revision) == ("service", spec["Name"], "r1")
    assert resource.extra["active"] is True


def test_traffic_is_a_label_that_moves_the_endpoint(env):
    p, t = env.provider, env.target
    base = from_data(json.loads(env.session.state.revisions(env.name, env.target_name)[-1]["spec"]))
    other = with_config(replace(base, revision="r7", env={**base.env, "EXTRA": "1"}), t.settings)
    created = p.create_revision(t, other)
    assert created.name == "r7" and env.observe().traffic == {"r1": 100}, "a new revision takes no traffic"
    try:
        health = wait(lambda: (h := p.health(t, env.name, "r7")).ready and h, "r7 never became ready")
        first = env.observe().endpoint
        assert health.endpoint != first, "each revision listens on its own address"
        p.set_traffic(t, env.name, {"r1": 0, "r7": 100})
        p.set_traffic(t, env.name, {"r7": 100})  # idempotent
        moved = env.observe()
        assert moved.traffic == {"r7": 100} and moved.endpoint == health.endpoint
        assert env.scale(moved.endpoint) == 1.0
        with pytest.raises(CapabilityError, match="cannot split"):
            p.set_traffic(t, env.name, {"r1": 50, "r7": 50})
        with pytest.raises(ProviderError, match="r99"):
            p.set_traffic(t, env.name, {"r99": 100})
        p.set_traffic(t, env.name, {"r1": 100})
        assert env.observe().endpoint == first
    finally:
        p.set_traffic(t, env.name, {"r1": 100})
        p.delete_revision(t, env.name, "r7")
    assert [r.name for r in env.observe().revisions] == ["r1"]


def test_logs_come_from_the_service(env):
    text = env.provider.logs(env.target, env.name, None, tail=50)
    assert "conformance" in text or "Uvicorn" in text or "ready" in text, text[-500:]
    with pytest.raises(ProviderError, match="r42"):
        env.provider.logs(env.target, env.name, "r42")


def test_crashing_tasks_fail_the_health_check(env, swarm_engine):
    """A revision whose tasks keep exiting is reported failed (waiting longer cannot help)."""
    p, t = env.provider, env.target
    base = from_data(json.loads(env.session.state.revisions(env.name, env.target_name)[-1]["spec"]))
    # the bare base image has no runtime: `python3 serve` exits at once
    bare = swarm_engine.images.get(BASE_IMAGE).id
    broken = with_config(replace(base, revision="r8", image=ImageRef(base.image.digest, bare)), t.settings)
    p.create_revision(t, broken)
    try:
        health = wait(lambda: (h := p.health(t, env.name, "r8")).failed and h, "crashing tasks never counted as failed",
                      timeout=120)
        assert not health.ready and "failed" in health.message
    finally:
        p.delete_revision(t, env.name, "r8")


def test_an_image_the_manager_lacks_is_refused_before_creating(env):
    base = from_data(json.loads(env.session.state.revisions(env.name, env.target_name)[-1]["spec"]))
    missing = replace(base, revision="r9", image=ImageRef("sha256:" + "0" * 64, "sha256:" + "1" * 64))
    with pytest.raises(ProviderError, match="not on the swarm manager"):
        env.provider.create_revision(env.target, missing)
    assert env.observe().revision("r9") is None


def test_all_at_once_is_a_rolling_update_and_a_failed_one_is_undone(env, swarm_engine):
    """all-at-once updates the serving service in place (same service, same endpoint); a version
    that cannot start fails the gate, and the service is put back on version 1."""
    before = env.observe()
    [service] = swarm_engine.services.list(filters={"label": f"{TAG_DEPLOYMENT}={env.name}"})
    result = mp.swap(env.project(2), env.target_name, strategy="all-at-once", session=env.session)
    after = env.observe()
    assert [r.name for r in after.revisions] == [result.revision] and result.revision != "r1"
    assert after.endpoint == before.endpoint, "an in-place update keeps the endpoint"
    assert swarm_engine.services.get(service.id).attrs["Spec"]["Labels"][TAG_REVISION] == result.revision
    assert env.scale(after.endpoint) == 2.0
    # version 3 whose model cannot load: the task exits, the gate fails, the undo restores v2
    broken = env.project(3, folder="broken")
    (broken / "predict.py").write_text("def load(path):\n    raise RuntimeError('no model here')\n\n"
                                       "def predict(model, inputs):\n    return {}\n")
    with pytest.raises(HealthGateFailed) as caught:
        mp.swap(broken, env.target_name, strategy="all-at-once", gate_timeout=150, session=env.session)
    assert "not ready after" not in str(caught.value), f"failing tasks must fail the gate early: {caught.value}"
    restored = env.observe()
    assert restored.traffic == {result.revision: 100} and restored.endpoint == before.endpoint
    assert wait(lambda: env.provider.health(env.target, env.name, result.revision).ready, "v2 is not back")
    assert env.scale(restored.endpoint) == 2.0


def test_unreachable_engine_is_a_provider_error(target_name):
    provider = load_providers(plugins()).get("swarm")
    target = Target(target_name, "swarm", provider.settings_model.model_validate(
        {"docker_host": "unix:///nonexistent/docker.sock"}))
    for call in (lambda: provider.observe(target, "x"), lambda: provider.list_resources(target)):
        with pytest.raises(ProviderError) as caught:
            call()
        assert caught.value.retryable and "does not answer" in str(caught.value)
