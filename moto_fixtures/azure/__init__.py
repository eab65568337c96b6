"""A local Azure Resource Manager emulator for Container Instances (api-version 2023-05-01) and
Container Apps (Microsoft.App, api-version 2026-07-01; see apps_service.py).

The official ``azure-mgmt-containerinstance`` client talks to it unmodified::

    from moto_fixtures.azure import ArmEmulator, StaticTokenCredential
    from azure.mgmt.containerinstance import ContainerInstanceManagementClient

    with ArmEmulator() as arm:
        arm.add_resource_group("00000000-0000-0000-0000-000000000000", "rg")
        client = ContainerInstanceManagementClient(
            StaticTokenCredential(), "00000000-0000-0000-0000-000000000000",
            base_url=arm.base_url, connection_verify=arm.ca_pem)

Container groups really run on the local Docker engine (DOCKER_HOST), each on its own
127.0.0.x address, which the group reports as ``ipAddress.ip``.
"""
from .credential import StaticTokenCredential
from .errors import ArmError
from .server import ArmEmulator, EmulatorStartError
from .service import API_VERSION

__all__ = ["API_VERSION", "ArmEmulator", "ArmError", "EmulatorStartError",
           "StaticTokenCredential"]
