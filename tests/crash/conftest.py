"""Fixtures for the crash and race tests: a shared MODELPORT_HOME (image builds are reused), a
runner on the local engine, and the emulated clouds as :class:`~tests.crash.harness.Cloud`."""

from __future__ import annotations

import uuid

import pytest

from moto_fixtures.azure.fixtures import azure_emulator  # noqa: F401  (the session's ARM emulator)

from .clouds import aws_cloud, azure_apps_cloud, azure_cloud, gcp_cloud
from .harness import Cloud, Runner


@pytest.fixture(scope="session")
def crash_home(tmp_path_factory):
    """One MODELPORT_HOME for every crash test (builds, OCI store, local traffic files)."""
    return tmp_path_factory.mktemp("crash-home")


@pytest.fixture(autouse=True)
def _home(crash_home, monkeypatch, docker_host, base_image):
    monkeypatch.setenv("MODELPORT_HOME", str(crash_home))
    monkeypatch.setenv("DOCKER_HOST", docker_host)


@pytest.fixture
def local_runner(request, tmp_path, state_factory, monkeypatch) -> Runner:
    """Commands on the local provider with a fresh state store: a SQLite file, or the backend the
    test is parametrized with (``@pytest.mark.parametrize("local_runner", [...], indirect=True)``)."""
    kind = getattr(request, "param", "sqlite")
    state = None if kind == "sqlite" else state_factory(kind)
    for key, value in (state.env if state else {}).items():
        monkeypatch.setenv(key, value)  # the test's own StateStore reads the backend too
    return Runner(Cloud("local", {"provider": "local"}), tmp_path, state)


@pytest.fixture
def cloud(request, monkeypatch):
    """The emulated cloud named by the test's parameter (aws, gcp, azure or azure-apps)."""
    provider = request.param
    if provider == "aws":
        found = aws_cloud(request.getfixturevalue("aws_emulation"))
    elif provider == "gcp":
        emulator = request.getfixturevalue("gcp_emulator")
        found = gcp_cloud(emulator.endpoint, request.getfixturevalue("registry").host)
    elif provider == "azure-apps":
        arm = request.getfixturevalue("azure_emulator")
        # its own environment per test: apps are named after deployments, unique per environment
        found = azure_apps_cloud(arm.base_url, arm.ca_pem, arm.subscription_id, arm.resource_group, arm.location,
                                 request.getfixturevalue("registry").host, f"crash-{uuid.uuid4().hex[:6]}")
    else:
        arm = request.getfixturevalue("azure_emulator")
        found = azure_cloud(arm.base_url, arm.ca_pem, arm.subscription_id, arm.resource_group, arm.location,
                            request.getfixturevalue("registry").host)
    for key, value in found.env.items():
        monkeypatch.setenv(key, value)
    return found
