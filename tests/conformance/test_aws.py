"""The aws provider passes the conformance suite on the AWS emulation (moto + ECS/ALB data plane)."""

from __future__ import annotations

import pytest

from modelport.testing.conformance import ConformanceTarget, ProviderConformance

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def conformance_target(aws_emulation, base_image):
    settings = {"provider": "aws", "endpoint_url": aws_emulation.endpoint_url, "region": aws_emulation.region,
                "registry": f"{aws_emulation.registry}/conformance"}
    return ConformanceTarget(settings=settings, base_image=base_image, gate_timeout=180,
                             resources={"cpu": 0.5, "memory": "1Gi"},
                             impossible_resources={"cpu": 0.25, "memory": "64Gi"},
                             bad_settings={**settings, "endpoint_url": "http://127.0.0.1:9"})


class TestAwsConformance(ProviderConformance):
    pass
