"""Canary on Azure Container Apps (ARM emulator): a canary 10 -> 50 -> 100 with the traffic split
read back from the app with the official client before every gate and predictions through the app
URL and each label URL; then the same through the CLI (`modelport swap --strategy canary --steps
10,50,100 --to <azure-apps target>`), a rollback and destroy."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import modelport.api as mp
from modelport.cli import main
from tests.providers.azure_apps.helpers import (apps_target, azure_apps_environment, azure_emulator,  # noqa: F401
                                                host_headers, modelport_home, served_version, split, unique,
                                                write_project)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1200)]


def test_canary_with_gates_at_each_step_cli_and_rollback(tmp_path, session, on_step, azure_apps_environment,
                                                         registry):
    env, name = azure_apps_environment, unique("c")
    target = {"aca": apps_target(env, registry)}
    first = mp.deploy(write_project(tmp_path / "v1", "1", name, target, cpu=0.5), "aca", session=session)
    assert first.revision == "r1" and split(env, name) == {"r1": 100}
    uri = first.endpoint
    assert uri == f"http://{env.static_ip}"
    assert served_version(uri, host_headers(env, name)) == "1"

    gates: list[tuple[str, dict]] = []
    answers: dict[int, set[str]] = {}

    def at_gate(i, step):
        if step.op != "gate":
            return
        weights = split(env, name)
        gates.append((step.via, weights))
        if "endpoint" in step.via:
            answers[weights.get("r2", 0)] = {served_version(uri, host_headers(env, name)) for _ in range(20)}
        assert served_version(uri, host_headers(env, name, "r2")) == "2", "the label URL reaches r2 only"
        assert served_version(uri, host_headers(env, name, "r1")) == "1", "the label URL reaches r1 only"

    on_step.append(at_gate)
    canary = mp.swap(write_project(tmp_path / "v2", "2", name, target, cpu=0.5), "aca", strategy="canary",
                     steps=[10, 50, 100], session=session)
    assert canary.revision == "r2" and canary.endpoint == uri
    assert gates == [("revision", {"r1": 100}), ("revision+endpoint", {"r1": 90, "r2": 10}),
                     ("revision+endpoint", {"r1": 50, "r2": 50}), ("revision+endpoint", {"r2": 100})]
    assert answers[50] == {"1", "2"}, "a 50/50 split serves both versions through the app URL"
    assert answers[100] == {"2"}
    on_step.clear()

    # the same through the CLI, back to version 1 (a new revision r3), gates at every step
    v1c = write_project(tmp_path / "v1c", "1", name, target, cpu=0.5, env={"MARKER": "c"})
    run = CliRunner().invoke(main, ["--state", str(session.state.path), "swap", str(v1c), "--to", "aca",
                                    "--strategy", "canary", "--steps", "10,50,100"])
    assert run.exit_code == 0, run.output
    assert split(env, name) == {"r3": 100}
    assert served_version(uri, host_headers(env, name)) == "1"
    print(run.output)

    back = mp.rollback(name, "aca", session=session)
    assert back.revision == "r2" and split(env, name) == {"r2": 100}
    assert served_version(uri, host_headers(env, name)) == "2"
    mp.destroy(name, "aca", session=session)
    client = env.azure.apps_client()
    assert name not in [a.name for a in client.container_apps.list_by_resource_group(env.azure.resource_group)]
