"""Applied, but the reply was lost: at every write primitive of the gcp provider, through the
intercepting proxy: Cloud Run applies the request, the client sees a reset. One deployment's
life (deploy, a swap whose gate fails, a good swap, destroy) loses the reply of each write call
it makes once -- CreateService, setIamPolicy, UpdateService (new revision, traffic, and the
undo's template re-apply), DeleteRevision, DeleteService, and an operation poll -- and must end
as if nothing had been lost: the operation completes (or rolls back for the bad gate), state and
cloud agree, nothing is orphaned, and no write was sent twice (a retry reads before it writes)."""

from __future__ import annotations

import uuid

import pytest

import modelport.api as mp
from modelport.errors import HealthGateFailed, ProviderError
from modelport.spec import load_spec

from tests.faults.harness import CLOUD, Harness
from tests.faults.rigs import GcpRig

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

SERVICES = "POST /v2/projects/*/locations/*/services"
SERVICE = "/v2/projects/*/locations/*/services/*"
REVISION = "DELETE /v2/projects/*/locations/*/services/*/revisions/*"
POLICY = "POST /v2/projects/*/locations/*/services/*:setIamPolicy"
OPERATION = "GET /v2/projects/*/locations/*/operations/*"


class SlowRig(GcpRig):
    """Operations take 2 s, as Cloud Run's take seconds: a repeat can then come while the lost
    request is still being applied."""

    emulator_options = {"operation_delay_s": 2.0}


@pytest.fixture(scope="module")
def harness(docker_host, base_image, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELPORT_HOME", str(tmp_path_factory.mktemp("lost-reply-home")))
        patch.setenv("MODELPORT_RETRY_MAX_WAIT", "1")
        started = SlowRig(docker_host).start()
        try:
            yield Harness(started, tmp_path_factory.mktemp("lost-reply"))
        finally:
            started.stop()


class Lose:
    """Lose the reply of the given (call key, occurrence) points of the next operation; on exit,
    check that each was reached and return the operation's call keys in ``calls``."""

    def __init__(self, harness: Harness, *points: tuple[str, int]) -> None:
        self.proxy, self.points, self.calls = harness.rig.proxy, points, []

    def __enter__(self) -> "Lose":
        self.mark, self.faulted = len(self.proxy.requests), len(self.proxy.faulted)
        for key, occurrence in self.points:
            self.proxy.fail_call(key, "lost_reply", occurrence)
        return self

    def __exit__(self, *exc) -> None:
        self.proxy.clear()
        self.calls = self.proxy.calls()[self.mark:]
        hit = [(key, fault) for _i, key, fault in self.proxy.faulted[self.faulted:]]
        assert hit == [(key, "lost_reply") for key, _ in self.points], f"not every lost reply was reached: {hit}"


def _failing_gate(harness: Harness, name: str):
    """Version 2 with a smoke check expecting an output shape the model does not produce."""
    folder = harness.project("2", name)
    toml = folder / "modelport.toml"
    toml.write_text(toml.read_text().replace("expected_output_shape = [2]", "expected_output_shape = [3]"))
    return load_spec(folder)


def test_every_write_survives_a_lost_reply(harness):
    name = f"l{uuid.uuid4().hex[:7]}"
    s = harness.session(harness.workdir / f"{name}.db")
    try:
        with Lose(harness, (SERVICES, 1), (POLICY, 1)) as lost:
            harness._deploy(s, name, "1")
        assert lost.calls.count(SERVICES) == 1, "the service was created once, then read back"
        assert harness._check_target(s, name, CLOUD, "v1") == []

        with Lose(harness, (OPERATION, 1), (f"PATCH {SERVICE}", 2), (REVISION, 1)) as lost:
            with pytest.raises(HealthGateFailed) as err:
                mp.deploy_image(_failing_gate(harness, name), CLOUD, harness.image("2"), strategy="blue-green", session=s)
        assert "ROLLBACK INCOMPLETE" not in err.value.message
        assert lost.calls.count(f"PATCH {SERVICE}") == 2, "new revision, then the template back to r1"
        assert lost.calls.count(REVISION) == 1
        assert harness._check_target(s, name, CLOUD, "v1") == []

        with Lose(harness, (f"PATCH {SERVICE}", 1), (f"PATCH {SERVICE}", 2)) as lost:
            harness._deploy(s, name, "2", "blue-green")
        assert lost.calls.count(f"PATCH {SERVICE}") == 2, "new revision, then traffic: once each"
        assert harness._check_target(s, name, CLOUD, "v2") == []

        # The repeat of a traffic change whose reply was lost returns once Cloud Run routes it
        # (the update may still be reconciling when the repeat reads the service).
        provider, target = s.target(load_spec(harness.project("2", name)), CLOUD)
        previous = min(r.name for r in provider.observe(target, name).revisions)
        with Lose(harness, (f"PATCH {SERVICE}", 1)):
            with pytest.raises(ProviderError) as err:
                provider.set_traffic(target, name, {previous: 100})
            assert err.value.retryable
            provider.set_traffic(target, name, {previous: 100})
            assert dict(provider.observe(target, name).traffic) == {previous: 100}
        assert provider.set_traffic(target, name, {"r3": 100}) is None
        assert harness._check_target(s, name, CLOUD, "v2") == []

        with Lose(harness, (f"DELETE {SERVICE}", 1)) as lost:
            mp.destroy(name, CLOUD, spec=harness.project("1", name), session=s)
        assert lost.calls.count(f"DELETE {SERVICE}") == 1
        assert harness._check_target(s, name, CLOUD, None) == []
    finally:
        assert harness.cleanup(s, name) == []
