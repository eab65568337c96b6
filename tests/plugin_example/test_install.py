"""modelport-swarm, installed from examples/provider-plugin like any third-party package, adds the
``swarm`` provider through its entry point alone: the CLI lists it, deploys, swaps (in place and
blue-green), refuses canary, rolls back and destroys on a real swarm, and the plugin's own test
suite (with modelport's conformance suite) passes in that environment. Nothing in core changes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import joblib
import numpy as np
import pytest

from .conftest import PLUGIN_SRC, REPO

EXAMPLES = REPO / "examples"
SAMPLE = json.loads((EXAMPLES / "iris" / "sample.json").read_text())
ROWS = np.array(SAMPLE["inputs"][0]["data"], dtype=np.float32)


def project(dest: Path, example: str, name: str, base_image: str, target: str) -> Path:
    """A copy of an example model deploying as ``name``, with a swarm target."""
    shutil.copytree(EXAMPLES / example, dest, ignore=shutil.ignore_patterns("train.py", "__pycache__"))
    toml = (dest / "modelport.toml").read_text().replace('"modelport-base:bookworm"', json.dumps(base_image))
    (dest / "modelport.toml").write_text(f'name = "{name}"\n{toml}\n{target}\n')
    return dest


def assert_serves(endpoint: str, example: str) -> None:
    """The endpoint's predictions are the example model's own, computed in process."""
    model = joblib.load(EXAMPLES / example / "model.joblib")
    reply = httpx.post(f"{endpoint}/v2/models/iris/infer", json=SAMPLE, timeout=30).json()
    outputs = {o["name"]: o["data"] for o in reply["outputs"]}
    assert outputs["predict"] == model.predict(ROWS).tolist()
    assert np.allclose(outputs["predict_proba"], model.predict_proba(ROWS).ravel(), atol=1e-6)


def cli(installed, *args: str, code: int = 0) -> dict:
    done = installed.modelport(*args, "--output", "json")
    assert done.returncode == code, f"modelport {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def services(docker_client, name: str) -> dict[str, dict]:
    found = docker_client.services.list(filters={"label": f"modelport:deployment={name}"})
    return {s.attrs["Spec"]["Labels"]["modelport:revision"]: s.attrs for s in found}


@pytest.fixture
def deployment(docker_client):
    """A unique deployment name; its services are removed at the end whatever happened."""
    name = f"sw{uuid.uuid4().hex[:8]}"
    yield name
    for service in docker_client.services.list(filters={"label": f"modelport:deployment={name}"}):
        service.remove()


def test_the_entry_point_alone_adds_the_provider(installed):
    listed = cli(installed, "providers")
    [swarm] = [p for p in listed["providers"] if p["name"] == "swarm"]
    assert swarm["plugin"] == "swarm" and swarm["api_version"] == 1
    caps = swarm["capabilities"]
    assert caps["traffic_split"] is False and caps["in_place_update"] is True and caps["needs_registry"] is False
    assert not [p for p in listed["problems"] if p["plugin"] == "swarm"], listed["problems"]
    where = installed.run("-c", "import modelport_swarm; print(modelport_swarm.__file__)")
    assert where.stdout.strip().startswith(str(installed.site)), "imported from the installed copy"
    # without the installed package there is no swarm provider: it comes from the plugin only
    bare = {**installed.env, "PYTHONPATH": ""}
    alone = subprocess.run([sys.executable, "-m", "modelport", "providers", "--output", "json"], env=bare,
                           capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "swarm" not in [p["name"] for p in json.loads(alone.stdout)["providers"]]


@pytest.mark.timeout(1800)  # three builds (cached) and gates on a loaded machine
def test_cli_lifecycle_on_swarm(installed, tmp_path, base_image, docker_client, deployment):
    target = '[targets.swarm]\nprovider = "swarm"\nreserve = 0.1\n'
    v1 = project(tmp_path / "v1", "iris", deployment, base_image, target)
    v2 = project(tmp_path / "v2", "iris-v2", deployment, base_image, target)

    first = cli(installed, "deploy", str(v1), "--to", "swarm")
    assert first["status"] == "succeeded" and first["revision"] == "r1"
    assert_serves(first["endpoint"], "iris")
    assert set(services(docker_client, deployment)) == {"r1"}

    refused = cli(installed, "swap", str(v2), "--to", "swarm", "--strategy", "canary", code=2)
    assert refused["error"] == "CapabilityError" and "cannot split traffic" in refused["message"]
    assert set(services(docker_client, deployment)) == {"r1"}, "a refused canary changes nothing"
    assert_serves(first["endpoint"], "iris")

    in_place = cli(installed, "swap", str(v2), "--to", "swarm", "--strategy", "all-at-once")
    assert in_place["endpoint"] == first["endpoint"], "Swarm's rolling update keeps the endpoint"
    assert set(services(docker_client, deployment)) == {in_place["revision"]}
    assert_serves(in_place["endpoint"], "iris-v2")

    # blue-green and rollback run in the plugin's own conformance suite (the last test here)
    status = cli(installed, "status", deployment)
    [row] = status if isinstance(status, list) else status["deployments"]
    assert row["traffic"] == {in_place["revision"]: 100}

    logs = cli(installed, "logs", deployment, "--to", "swarm")
    assert logs["logs"].strip(), "service logs are readable"

    cli(installed, "destroy", deployment, "--to", "swarm")
    assert services(docker_client, deployment) == {}


@pytest.mark.timeout(1200)
def test_nodes_pull_by_digest_from_a_configured_registry(installed, tmp_path, base_image, docker_client,
                                                          deployment, registry):
    """With a registry (as a multi-node swarm needs) the image is pushed and tasks pull it by digest."""
    target = f'[targets.swarm]\nprovider = "swarm"\nreserve = 0.1\nregistry = "{registry.host}/swarm"\n'
    v1 = project(tmp_path / "v1", "iris", deployment, base_image, target)
    done = cli(installed, "deploy", str(v1), "--to", "swarm")
    [spec] = services(docker_client, deployment).values()
    image = spec["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    assert image == f"{registry.host}/swarm/{deployment}@{done['image']['digest']}"
    assert_serves(done["endpoint"], "iris")
    cli(installed, "destroy", deployment, "--to", "swarm")


@pytest.mark.timeout(2400)
def test_the_plugins_own_suite_passes_in_that_environment(installed):
    """The plugin's tests (its pure tests and modelport's conformance suite) run against the
    installed copy and must pass; only optional conformance clauses may skip."""
    # its pure tests and the conformance suite; its own provider tests (tests/test_provider.py,
    # ~2 more minutes) run with `pytest examples/provider-plugin/tests`
    done = installed.run("-m", "pytest", str(PLUGIN_SRC / "tests" / "test_settings_translate.py"),
                         str(PLUGIN_SRC / "tests" / "test_conformance.py"), "-q", "-p", "no:cacheprovider", "-rs",
                         timeout=2300)
    tail = (done.stdout + done.stderr)[-6000:]
    assert done.returncode == 0, f"the plugin's suite failed:\n{tail}"
    assert " passed" in done.stdout.splitlines()[-1], tail
    skips = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert all("core/testing/" in line for line in skips), f"the plugin's own tests skipped: {skips}"
