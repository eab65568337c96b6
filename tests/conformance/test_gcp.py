"""The gcp provider passes the conformance suite on the Cloud Run emulator."""

from __future__ import annotations

import pytest

from modelport.testing.conformance import ConformanceTarget, ProviderConformance

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def conformance_target(gcp_emulator, registry, base_image):
    settings = {"provider": "gcp", "project": gcp_emulator.project, "region": gcp_emulator.region,
                "api_endpoint": gcp_emulator.endpoint, "credentials": "anonymous",
                "registry": f"{registry.host}/conformance-gcp", "public": True}
    return ConformanceTarget(settings=settings, base_image=base_image, gate_timeout=180,
                             resources={"cpu": 1, "memory": "1Gi"},
                             impossible_resources={"cpu": 0.3, "memory": "64Gi"},
                             bad_settings={**settings, "api_endpoint": "http://127.0.0.1:9"},
                             peer_settings={**settings, "region": "europe-west1"})


class TestGcpConformance(ProviderConformance):
    pass
