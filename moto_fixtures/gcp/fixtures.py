"""pytest fixtures for the Cloud Run emulator.

Use from a conftest.py: ``pytest_plugins = ["moto_fixtures.pytest_plugin",
"moto_fixtures.gcp.fixtures"]``. The Docker engine is the session's ``docker_host`` fixture
(``$DOCKER_HOST`` when it answers, else a private engine).
"""

from __future__ import annotations

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
    credentials_file: str | None = None  # a deployer service account's key file (GOOGLE_APPLICATION_CREDENTIALS)

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
def gcp_emulator(docker_host: str, tmp_path_factory):
    """A running Cloud Run emulator for the whole session (containers removed at the end), with a
    deployer service account's key file (``credentials_file``, role run.admin on the project)."""
    emulator = CloudRunEmulator(docker_host=docker_host, grace_s=1.0)
    endpoint = emulator.start()
    try:
        key = emulator.write_credentials(tmp_path_factory.mktemp("gcp-credentials"))
        yield GcpEmulator(endpoint, "modelport-test", "us-central1", emulator, str(key))
    finally:
        emulator.stop()
