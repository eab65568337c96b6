"""Fixture plugins for the whole suite, and the fixtures shared across its folders.

``moto_fixtures.pytest_plugin`` gives the generic fixtures (docker_host, docker_client,
base_image, registry, registry_b, auth_registry, registry_factory, state_path); emulator fixture
modules are added to this list by their authors.
"""

import pytest

pytest_plugins = [
    "moto_fixtures.pytest_plugin",
    "moto_fixtures.aws.fixtures",
    "tests.providers.aws.plugin",
    "moto_fixtures.gcp.fixtures",
    "modelport.testing.pytest_plugin",
]


@pytest.fixture
def local_cleanup(docker_client):
    """Deployment names whose local-provider containers are removed at the end, whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        for box in docker_client.containers.list(all=True, filters={"label": f"io.modelport.deployment={name}"}):
            box.remove(force=True)
