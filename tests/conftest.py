"""Fixture plugins for the whole suite, and the fixtures shared across its folders.

``moto_fixtures.pytest_plugin`` gives the generic fixtures (docker_host, docker_client,
base_image, registry, registry_b, auth_registry, registry_factory, state_path);
``moto_fixtures.state_fixtures`` the state backends (state_factory, state_target); emulator fixture
modules are added to this list by their authors. ``tests.budget`` holds the suite's scheduling
rules (the ``timing`` and ``alone`` markers, the reruns summary, the slow-first order).
"""

import pytest

pytest_plugins = [
    "tests.budget",
    "moto_fixtures.pytest_plugin",
    "moto_fixtures.state_fixtures",
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
