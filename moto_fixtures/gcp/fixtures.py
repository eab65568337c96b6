"""pytest fixtures for the Cloud Run emulator.

Use from a conftest.py: ``pytest_plugins = ["moto_fixtures.gcp.fixtures"]``. The Docker engine
comes from $DOCKER_HOST; tests that need it are skipped (with the reason) when it is unset.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from . import CloudRunEmulator


@dataclass(frozen=True)
class GcpEmulator:
    """What a test needs to point the official client at the emulator."""

    endpoint: str
    project: str
    region: str
    emulator: CloudRunEmulator

    @property
    def parent(self) -> str:
        """projects/<project>/locations/<region>."""
        return f"projects/{self.project}/locations/{self.region}"

    def client_kwargs(self) -> dict:
        """Keyword arguments for run_v2.ServicesClient / RevisionsClient (REST, anonymous)."""
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        return {"credentials": AnonymousCredentials(), "transport": "rest",
                "client_options": ClientOptions(api_endpoint=self.endpoint)}


@pytest.fixture(scope="session")
def gcp_emulator():
    """A running Cloud Run emulator for the whole session (containers removed at the end)."""
    docker_host = os.environ.get("DOCKER_HOST")
    if not docker_host:
        pytest.skip("DOCKER_HOST is not set: the Cloud Run emulator needs a Docker engine")
    emulator = CloudRunEmulator(docker_host=docker_host, grace_s=1.0)
    endpoint = emulator.start()
    try:
        yield GcpEmulator(endpoint, "modelport-test", "us-central1", emulator)
    finally:
        emulator.stop()
