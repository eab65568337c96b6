"""The local provider passes the conformance suite on the test Docker engine."""

from __future__ import annotations

import pytest

from modelport.testing.conformance import ConformanceTarget, ProviderConformance

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def conformance_target(base_image):
    return ConformanceTarget(settings={"provider": "local"}, base_image=base_image, gate_timeout=120,
                             bad_settings={"provider": "local", "docker_host": "unix:///nonexistent/docker.sock"},
                             peer_settings={"provider": "local"})


class TestLocalConformance(ProviderConformance):
    pass
