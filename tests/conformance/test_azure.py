"""The azure provider passes the conformance suite on the ARM emulator."""

from __future__ import annotations

import pytest

from modelport.testing.conformance import ConformanceTarget, ProviderConformance
from moto_fixtures.azure.fixtures import azure_emulator  # noqa: F401 -- the fixture

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]
TOKEN_ENV = "MODELPORT_CONFORMANCE_AZURE_TOKEN"


@pytest.fixture(scope="module")
def conformance_target(azure_emulator, registry, base_image):  # noqa: F811
    settings = {"provider": "azure", "subscription_id": azure_emulator.subscription_id,
                "resource_group": azure_emulator.resource_group, "location": azure_emulator.location,
                "base_url": azure_emulator.base_url, "ca_bundle": azure_emulator.ca_pem, "token_env": TOKEN_ENV,
                "registry": f"{registry.host}/conformance-azure", "endpoint_host": "ip"}
    # another region: ACI DNS labels are unique per region, so a peer in the same region collides
    azure_emulator.emulator.add_resource_group(azure_emulator.subscription_id, "modelport-peer", "westus2")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TOKEN_ENV, "emulator-token")
        yield ConformanceTarget(settings=settings, base_image=base_image, gate_timeout=180,
                                resources={"cpu": 1, "memory": "1.5Gi"},
                                impossible_resources={"cpu": 1, "memory": "64Gi"},
                                bad_settings={**settings, "base_url": "https://127.0.0.1:9"},
                                peer_settings={**settings, "resource_group": "modelport-peer", "location": "westus2"})


class TestAzureConformance(ProviderConformance):
    pass
