"""Helpers for the azure provider's end-to-end tests: the ARM emulator (HTTPS, its own CA), iris
projects with an azure target, and reads through the official ContainerInstanceManagementClient
(independent of the provider under test)."""

from __future__ import annotations

import pytest

from moto_fixtures.azure.fixtures import azure_emulator  # noqa: F401  (re-exported fixture)
from tests.environment import modelport_home_at
from tests.providers.gcp.helpers import served_version, unique  # noqa: F401
from tests.providers.gcp.helpers import write_project as _iris_project

from modelport.provider import TAG_DEPLOYMENT, TAG_REVISION

TOKEN_ENV = "MODELPORT_TEST_AZURE_TOKEN"


@pytest.fixture(scope="module", autouse=True)
def modelport_home(tmp_path_factory):
    """One local image store and an ARM token (token_env) for the module."""
    with modelport_home_at(tmp_path_factory.mktemp("mphome"), **{TOKEN_ENV: "emulator-token"}) as home:
        yield home


def write_project(dest, version: str, name: str, targets: dict, **kwargs):
    """The iris project of the gcp helpers, asking for one instance: Container Instances has no
    autoscaling, so a spec with an azure target and max_instances > 1 is refused at validate."""
    folder = _iris_project(dest, version, name, targets, **kwargs)
    spec = folder / "modelport.toml"
    spec.write_text(spec.read_text().replace("max_instances = 2", "max_instances = 1"))
    return folder


def azure_target(arm, registry, **settings) -> dict:
    """Settings of an azure target on the emulator, images in the local registry."""
    return {"provider": "azure", "subscription_id": arm.subscription_id, "resource_group": arm.resource_group,
            "location": arm.location, "base_url": arm.base_url, "ca_bundle": arm.ca_pem,
            "token_env": TOKEN_ENV, "registry": f"{registry.host}/azure", "endpoint_host": "ip", **settings}


def groups(arm, deployment: str) -> dict[str, object]:
    """Container groups tagged with ``deployment``, by name, read with the official client."""
    client = arm.client()
    return {g.name: g for g in client.container_groups.list_by_resource_group(arm.resource_group)
            if (g.tags or {}).get(TAG_DEPLOYMENT) == deployment}


def revisions(arm, deployment: str) -> dict[str, str]:
    """group name -> modelport revision tag."""
    return {name: g.tags[TAG_REVISION] for name, g in groups(arm, deployment).items()}


def address(group) -> str:
    """http://ip:port of a group as the official client reads it."""
    return f"http://{group.ip_address.ip}:{group.ip_address.ports[0].port}"


def wait_ready(endpoint: str, timeout: float = 120) -> str:
    """Wait until the model server at ``endpoint`` is ready (after a container restart)."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{endpoint}/v2/health/ready", timeout=3).status_code == 200:
                return endpoint
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{endpoint} did not become ready in {timeout:g} s")
        time.sleep(0.5)
