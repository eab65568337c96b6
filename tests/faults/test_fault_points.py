"""Faults at every step, a CI sample of the matrix (benchmarks/faults.py runs all of it): on each
emulated cloud one operation runs once per sampled fault point with that control-plane call
failing once (throttle, 5xx, timeout, reset in turn); each run must complete, or roll back to
the previous serving state, with state and cloud agreeing and no orphaned tagged resource."""

from __future__ import annotations

import pytest

from modelport.provider import ImageRef

from tests.faults.harness import Harness
from tests.faults.rigs import rig

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1200)]

#: cloud -> (operation, selection, every): two or three fault points, a minute or two per cloud
SAMPLE = {"gcp": ("deploy", "writes", 1), "azure": ("deploy", "sites", 2), "aws": ("deploy", "writes", 6),
          "azure-apps": ("deploy", "writes", 1)}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One image store for the module: each iris version is built once."""
    folder = tmp_path_factory.mktemp("faults-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELPORT_HOME", str(folder))
        patch.setenv("MODELPORT_RETRY_MAX_WAIT", "1")  # short backoff; the same bound of attempts
        yield folder


@pytest.fixture(scope="module", params=sorted(SAMPLE))
def harness(request, home, docker_host, base_image, tmp_path_factory):
    started = rig(request.param, docker_host)
    try:
        yield Harness(started, tmp_path_factory.mktemp(f"faults-{request.param}"))
    finally:
        started.stop()


def _explain(result: dict) -> str:
    return "\n".join(f"{f['key']} #{f['occurrence']} {f['fault']}: {'; '.join(f['problems'])}"
                     for f in result["failures"]) or str(result["baseline"])


def test_every_sampled_fault_point_completes_or_rolls_back(harness):
    operation, select, every = SAMPLE[harness.rig.cloud]
    result = harness.matrix(operation, select, every)
    assert result["baseline"]["survived"], result["baseline"]["problems"]
    assert result["tried"] >= 2, result
    assert result["survived"] == result["tried"], _explain(result)
    print(f"{harness.rig.cloud} {operation}: {result['survived']}/{result['tried']} fault points survived "
          f"({result['calls']} calls, {result['points']} points)")


def test_canary_without_traffic_split_is_refused_before_any_write(harness):
    if harness.rig.canary:
        pytest.skip(f"{harness.rig.cloud} splits traffic")
    result = harness.matrix("swap-canary")
    assert (result["tried"], result["survived"]) == (1, 1), _explain(result)
    assert "CapabilityError" in result["baseline"]["error"]


def test_the_checks_see_an_orphan_and_a_wrong_version(harness):
    """The checks can fail: a revision created behind modelport's back, and an endpoint that
    serves another version than expected, are both reported."""
    if harness.rig.cloud != "gcp":
        pytest.skip("one cloud is enough to show the checks fail")
    import uuid
    from dataclasses import replace

    import modelport.api as mp
    from modelport.engine.revision import revision_spec
    from modelport.spec import load_spec

    from tests.faults.harness import CLOUD

    name = f"f{uuid.uuid4().hex[:7]}"
    s = harness.session(harness.workdir / f"{name}.db")
    try:
        loaded = load_spec(harness.project("1", name))
        mp.deploy_image(loaded, CLOUD, harness.image("1"), session=s)
        assert harness._check_target(s, name, CLOUD, "v1") == []
        assert any("answers v1, expected v2" in p for p in harness._check_target(s, name, CLOUD, "v2"))
        provider, target = s.target(loaded, CLOUD)
        ref = ImageRef(harness.image("1").digest, harness.image("1").image_id,
                       f"{harness.rig.settings['registry']}/{name}@{harness.image('1').digest}")
        provider.create_revision(target, replace(revision_spec(loaded.spec, ref, "r9"), config="stray"))
        problems = harness._check_target(s, name, CLOUD, "v1")
        assert any("state has revisions ['r1'], cloud ['r1', 'r9']" in p for p in problems), problems
    finally:
        assert harness.cleanup(s, name) == []


def test_azure_switch_applied_but_unanswered_completes_the_swap(harness):
    """"Applied but the reply was lost" inside a whole operation, at the one Azure write the SDK
    does not repeat by itself (the PATCH that moves the serving tag in a blue-green swap): the
    engine's retry of set_traffic reads, finds the switch made, and the swap completes with state
    and cloud agreeing and nothing orphaned. Every write primitive is in test_azure_lost_reply.py;
    benchmarks/faults.py rotates lost_reply through every fault point."""
    if harness.rig.cloud != "azure":
        pytest.skip("the azure provider's lost-reply case (each cloud tests its own)")
    key = "PATCH /subscriptions/*/resourceGroups/*/providers/Microsoft.ContainerInstance/containerGroups/*"
    outcome, _ = harness.run("swap-blue-green", (key, 1), "lost_reply")
    assert outcome.reached, str(outcome.to_dict())
    assert outcome.survived and outcome.completed, str(outcome.to_dict())
