"""Pytest fixtures for the ARM emulator.

Use with ``pytest_plugins = ["moto_fixtures.azure.fixtures"]`` (or import the fixture)::

    def test_x(azure_emulator):
        client = azure_emulator.client()
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from .credential import StaticTokenCredential
from .server import ArmEmulator

SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "modelport-test"
LOCATION = "eastus"


@dataclass(frozen=True)
class AzureEmulatorInfo:
    """What a test needs to reach the emulator."""

    base_url: str
    ca_pem: str
    subscription_id: str
    resource_group: str
    location: str
    emulator: ArmEmulator

    def client(self, **kwargs):
        """An official ContainerInstanceManagementClient bound to the emulator."""
        from azure.mgmt.containerinstance import ContainerInstanceManagementClient
        return ContainerInstanceManagementClient(
            StaticTokenCredential(), self.subscription_id, base_url=self.base_url,
            connection_verify=self.ca_pem, **kwargs)


    def apps_client(self, **kwargs):
        """An official ContainerAppsAPIClient (Microsoft.App) bound to the emulator."""
        from azure.mgmt.appcontainers import ContainerAppsAPIClient
        return ContainerAppsAPIClient(
            StaticTokenCredential(), self.subscription_id, base_url=self.base_url,
            connection_verify=self.ca_pem, **kwargs)


@pytest.fixture(scope="session")
def azure_emulator():
    """A running ARM emulator with resource group 'modelport-test' (location eastus)."""
    emulator = ArmEmulator()
    emulator.start()
    emulator.add_resource_group(SUBSCRIPTION_ID, RESOURCE_GROUP, LOCATION)
    try:
        yield AzureEmulatorInfo(emulator.base_url, emulator.ca_pem, SUBSCRIPTION_ID,
                                RESOURCE_GROUP, LOCATION, emulator)
    finally:
        emulator.stop()
