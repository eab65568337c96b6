"""The azure-apps provider passes the conformance suite on the ARM emulator's Container Apps."""

from __future__ import annotations

import uuid

import pytest

from modelport.testing.conformance import ConformanceTarget, ProviderConformance
from moto_fixtures.azure.apps_fixtures import azure_apps_environment  # noqa: F401 -- the fixture
from moto_fixtures.azure.fixtures import azure_emulator  # noqa: F401 -- the fixture

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]
TOKEN_ENV = "MODELPORT_CONFORMANCE_AZURE_APPS_TOKEN"


@pytest.fixture(scope="module")
def conformance_target(azure_apps_environment, registry, base_image):  # noqa: F811
    env, arm = azure_apps_environment, azure_apps_environment.azure
    settings = {"provider": "azure-apps", "subscription_id": arm.subscription_id,
                "resource_group": arm.resource_group, "location": arm.location, "environment": env.name,
                "base_url": arm.base_url, "ca_bundle": arm.ca_pem, "token_env": TOKEN_ENV,
                "registry": f"{registry.host}/conformance-azure-apps", "via_static_ip": True, "allow_insecure": True}
    # the peer: another resource group and a managed environment the provider creates itself
    peer_group = f"modelport-apps-peer-{uuid.uuid4().hex[:6]}"
    arm.emulator.add_resource_group(arm.subscription_id, peer_group, "westus2")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TOKEN_ENV, "emulator-token")
        yield ConformanceTarget(settings=settings, base_image=base_image, gate_timeout=180,
                                resources={"cpu": 0.5, "memory": "1Gi"},
                                impossible_resources={"cpu": 8, "memory": "16Gi"},
                                bad_settings={**settings, "base_url": "https://127.0.0.1:9"},
                                peer_settings={**settings, "resource_group": peer_group, "location": "westus2",
                                               "environment": f"peer-{uuid.uuid4().hex[:6]}"})


class TestAzureAppsConformance(ProviderConformance):
    pass
