"""Helpers for the gcp provider's end-to-end tests: an emulator per module, iris projects with a
gcp target, which iris version answered (:mod:`tests.iris`), and reads through the official
client (independent of the provider under test). Each module gets its own emulator so a
failed test leaves nothing behind for the next module.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import docker
import pytest

from moto_fixtures.gcp import CloudRunEmulator
from moto_fixtures.gcp.fixtures import GcpEmulator
from moto_fixtures.gcp.runtime import LABEL_INSTANCE, LABEL_SERVICE
from tests.environment import modelport_home_at
from tests.iris import EXAMPLES, served_version  # noqa: F401  (re-exported)


@pytest.fixture(scope="module")
def cloud(docker_host, base_image, tmp_path_factory):
    """A Cloud Run emulator for one test module (every container removed at the end), with a
    deployer service account's key file (``credentials_file``)."""
    emulator = CloudRunEmulator(docker_host=docker_host, grace_s=1.0)
    endpoint = emulator.start()
    try:
        key = emulator.write_credentials(tmp_path_factory.mktemp("gcp-credentials"))
        yield GcpEmulator(endpoint, "modelport-test", "us-central1", emulator, str(key))
    finally:
        emulator.stop()


@pytest.fixture(scope="module", autouse=True)
def modelport_home(tmp_path_factory):
    """One local image store for the module (builds and pushes are reused)."""
    with modelport_home_at(tmp_path_factory.mktemp("mphome")) as home:
        yield home


def unique(prefix: str = "g") -> str:
    """A fresh deployment name."""
    return f"{prefix}{uuid.uuid4().hex[:7]}"


def gcp_target(cloud: GcpEmulator, registry, **settings) -> dict:
    """Settings of a gcp target on the emulator, images in the local registry."""
    return {"provider": "gcp", "project": cloud.project, "region": cloud.region,
            "api_endpoint": cloud.endpoint, "credentials": "anonymous",
            "registry": f"{registry.host}/gcp", "public": True, **settings}


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def write_project(dest: Path, version: str, name: str, targets: dict[str, dict], *, cpu: float = 1,
                  memory: str = "1Gi", concurrency: int = 80, shape: list[int] | None = None,
                  secrets: dict[str, str] | None = None, env: dict[str, str] | None = None) -> Path:
    """An iris project (version "1" or "2") with the given targets; returns its folder."""
    dest.mkdir(parents=True)
    source = EXAMPLES / ("iris" if version == "1" else "iris-v2")
    for f in ("model.joblib", "sample.json"):
        shutil.copy(source / f, dest / f)
    lines = [f'name = "{name}"', "[model]", 'name = "iris"', f'version = "{version}.0.0"',
             'path = "model.joblib"', 'framework = "sklearn"',
             "[serving]", "port = 8080", 'sample_input = "sample.json"',
             f"expected_output_shape = {_toml(shape or [2])}",
             "[build]", 'base_image = "modelport-base:bookworm"',
             "[resources]", f"cpu = {cpu}", f'memory = "{memory}"',
             "[scaling]", "min_instances = 1", "max_instances = 2", f"concurrency = {concurrency}",
             "[rollout]", "gate_timeout = 120", "[env]", 'LOG_LEVEL = "info"',
             *[f"{k} = {_toml(v)}" for k, v in (env or {}).items()]]
    if secrets:
        lines += ["[secrets]", *[f"{k} = {_toml(v)}" for k, v in secrets.items()]]
    for target, settings in targets.items():
        lines.append(f"[targets.{target}]")
        lines += [f"{k} = {_toml(v)}" for k, v in settings.items()]
    (dest / "modelport.toml").write_text("\n".join(lines) + "\n")
    return dest


def services_client(cloud: GcpEmulator):
    from google.cloud import run_v2

    return run_v2.ServicesClient(**cloud.client_kwargs())


def revisions_client(cloud: GcpEmulator):
    from google.cloud import run_v2

    return run_v2.RevisionsClient(**cloud.client_kwargs())


def service_name(cloud: GcpEmulator, deployment: str) -> str:
    return f"{cloud.parent}/services/{deployment}"


def read_service(cloud: GcpEmulator, deployment: str):
    """The Service as the official client reads it."""
    return services_client(cloud).get_service(name=service_name(cloud, deployment))


def serving_split(cloud: GcpEmulator, deployment: str) -> dict[str, int]:
    """Revision id -> percent from the service's traffic statuses (read with the official client)."""
    return {s.revision: s.percent for s in read_service(cloud, deployment).traffic_statuses if s.percent}


def revision_ids(cloud: GcpEmulator, deployment: str) -> list[str]:
    """Cloud Run revision ids of the service, sorted."""
    pager = revisions_client(cloud).list_revisions(parent=service_name(cloud, deployment))
    return sorted(r.name.rsplit("/", 1)[-1] for r in pager)


def service_containers(cloud: GcpEmulator, deployment: str) -> list:
    """Containers the emulator runs for the deployment's service."""
    engine = docker.DockerClient(base_url=cloud.emulator.docker_host)
    try:
        labels = [f"{LABEL_INSTANCE}={cloud.emulator.runtime.instance_id}",
                  f"{LABEL_SERVICE}={service_name(cloud, deployment)}"]
        return engine.containers.list(all=True, filters={"label": labels})
    finally:
        engine.close()
