"""Swaps on Container Instances (ARM emulator): blue-green (new group, smoke-tested at its own
address, then the modelport:active tag moves), canary refused (API and CLI, nothing created),
rollback, all-at-once as an in-place update of the serving group, failed gates rolling back.
The groups are read back with the official client; predictions go through the reported address
after every step."""

from __future__ import annotations


import pytest
from click.testing import CliRunner

import modelport.api as mp
from modelport.cli import main
from modelport.errors import CapabilityError, HealthGateFailed
from modelport.provider import TAG_REVISION
from tests.providers.azure.helpers import (address, azure_emulator, azure_target, groups,  # noqa: F401
                                           modelport_home, revisions, served_version, unique, wait_ready,
                                           write_project)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1500)]
ACTIVE = "modelport:active"


def serving(arm, name: str) -> str:
    """The revision tag of the group with the highest active marker (read with the official client)."""
    found = [g for g in groups(arm, name).values() if (g.tags or {}).get(ACTIVE)]
    return max(found, key=lambda g: int(g.tags[ACTIVE])).tags[TAG_REVISION]


def test_swaps_rollback_and_failed_gates(tmp_path, session, azure_emulator, registry, on_step):
    arm, name = azure_emulator, unique("a")
    target = {"azure": azure_target(arm, registry)}
    first = mp.deploy(write_project(tmp_path / "v1", "1", name, target), "azure", session=session)
    assert served_version(first.endpoint) == "1"

    # blue-green: a new group, smoke-tested at its own address while r1 still serves
    gates: list[tuple[str, str]] = []
    on_step.append(lambda i, step: step.op == "gate" and gates.append((step.via, serving(arm, name))))
    v2 = write_project(tmp_path / "v2", "2", name, target)
    blue = mp.swap(v2, "azure", strategy="blue-green", session=session)
    assert gates == [("revision", "r1"), ("endpoint", "r2")]
    assert revisions(arm, name) == {f"{name}-r1": "r1", f"{name}-r2": "r2"}
    assert blue.revision == "r2" and blue.endpoint == address(groups(arm, name)[f"{name}-r2"]) != first.endpoint
    assert served_version(blue.endpoint) == "2" and served_version(first.endpoint) == "1"
    [status] = mp.status(name, session=session)
    assert status["traffic"] == {"r2": 100} and status["endpoint"] == blue.endpoint

    # canary: refused before anything is created, by the API and by the CLI (exit code 2)
    before = {n: dict(g.tags) for n, g in groups(arm, name).items()}
    v2c = write_project(tmp_path / "v2c", "2", name, target, env={"MARKER": "c"})
    with pytest.raises(CapabilityError, match="cannot split traffic"):
        mp.swap(v2c, "azure", strategy="canary", steps=[10, 50, 100], session=session)
    run = CliRunner().invoke(main, ["--state", str(tmp_path / "state.db"), "swap", str(v2c), "--to", "azure",
                                    "--strategy", "canary", "--steps", "10,100"])
    assert run.exit_code == 2, run.output
    assert "canary is refused" in run.output
    assert {n: dict(g.tags) for n, g in groups(arm, name).items()} == before

    # rollback: the active tag returns to r1; the endpoint is r1's address again
    back = mp.rollback(name, "azure", session=session)
    assert back.revision == "r1" and back.endpoint == first.endpoint and serving(arm, name) == "r1"
    assert served_version(back.endpoint) == "1"

    # all-at-once: the serving group is updated in place (its container restarts), no new group
    gates.clear()
    plan = mp.plan(v2c, "azure", strategy="all-at-once", session=session)
    assert f"updates {name}-r1 in place: the container restarts" in plan.notes
    # plan says what each scaling key becomes on ACI (one always-running group, no autoscaling)
    [update] = [step for step in plan.steps if step.op == "update_revision"]
    assert update.resources["scaling"].startswith("min_instances 1, max_instances 1 -> one container group")
    assert "scaling: min_instances 1, max_instances 1 -> one container group" in plan.render()
    aao = mp.swap(v2c, "azure", strategy="all-at-once", session=session)
    assert gates == [("endpoint", "r3")]
    assert revisions(arm, name) == {f"{name}-r1": "r3"}, "updated in place; r2 pruned (keep_revisions = 1)"
    group = groups(arm, name)[f"{name}-r1"]
    env = {e.name: e.value for e in group.containers[0].environment_variables}
    assert env["MARKER"] == "c" and group.ip_address.dns_name_label == f"{name}-r1"
    assert aao.revision == "r3" and aao.endpoint == address(group)
    assert served_version(aao.endpoint) == "2"

    # a failed gate after an in-place update puts the previous revision back into the group
    bad = write_project(tmp_path / "bad", "1", name, target, shape=[3])
    with pytest.raises(HealthGateFailed):
        mp.swap(bad, "azure", strategy="all-at-once", session=session)
    assert revisions(arm, name) == {f"{name}-r1": "r3"}
    group = groups(arm, name)[f"{name}-r1"]
    assert {e.name: e.value for e in group.containers[0].environment_variables}["MARKER"] == "c"
    [status] = mp.status(name, session=session)
    # the undo restarted the container with r3's spec (the engine does not wait for it)
    assert status["traffic"] == {"r3": 100} and served_version(wait_ready(status["endpoint"])) == "2"

    # a failed gate in blue-green removes the new group; r3 keeps serving
    with pytest.raises(HealthGateFailed):
        mp.swap(bad, "azure", strategy="blue-green", session=session)
    assert revisions(arm, name) == {f"{name}-r1": "r3"} and serving(arm, name) == "r3"
    assert served_version(address(groups(arm, name)[f"{name}-r1"])) == "2"

    mp.destroy(name, "azure", session=session)
    assert groups(arm, name) == {}


def test_all_at_once_with_a_new_size_recreates_the_group(tmp_path, session, azure_emulator, registry):
    arm, name = azure_emulator, unique("a")
    target = {"azure": azure_target(arm, registry)}
    mp.deploy(write_project(tmp_path / "v1", "1", name, target), "azure", session=session)
    fqdn = groups(arm, name)[f"{name}-r1"].ip_address.fqdn
    try:
        # ACI sets cpu/memory only at creation: the group is deleted and created again, same name
        bigger = write_project(tmp_path / "v2", "2", name, target, cpu=2, memory="2Gi")
        result = mp.swap(bigger, "azure", strategy="all-at-once", session=session)
        group = groups(arm, name)[f"{name}-r1"]
        # the same label in the same scope: the recreated group has the same DNS name
        assert group.ip_address.fqdn == fqdn
        requests = group.containers[0].resources.requests
        assert (requests.cpu, requests.memory_in_gb) == (2, 2.0)
        assert revisions(arm, name) == {f"{name}-r1": "r2"} and serving(arm, name) == "r2"
        assert result.endpoint == address(group) and served_version(result.endpoint) == "2"
    finally:
        mp.destroy(name, "azure", session=session)
    assert groups(arm, name) == {}
