"""Pytest fixtures for Container Apps on the ARM emulator.

``azure_apps_environment`` is a managed environment (Consumption, created through the official
client) in the session's emulator; its ingress answers on ``static_ip`` ports 80 and 443.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from .fixtures import AzureEmulatorInfo, azure_emulator  # noqa: F401 - re-exported fixture


@dataclass(frozen=True)
class AppsEnvironmentInfo:
    """A ready managed environment and the emulator it lives in."""

    azure: AzureEmulatorInfo
    name: str
    id: str
    static_ip: str
    default_domain: str


@pytest.fixture(scope="session")
def azure_apps_environment(azure_emulator):  # noqa: F811 - the fixture above
    """A managed environment 'env-<random>' in the session's resource group."""
    from azure.mgmt.appcontainers.models import ManagedEnvironment

    client = azure_emulator.apps_client()
    name = f"env-{uuid.uuid4().hex[:8]}"
    env = client.managed_environments.begin_create_or_update(
        azure_emulator.resource_group, name, ManagedEnvironment(location=azure_emulator.location)
    ).result()
    yield AppsEnvironmentInfo(azure_emulator, name, env.id, env.static_ip, env.default_domain)
