"""Generic session fixtures: a Docker engine, the base image, live registries, a state path.

Loaded by ``tests/conftest.py`` (``pytest_plugins = ["moto_fixtures.pytest_plugin", ...]``);
emulator fixtures live in their own modules and are added to that list next to this one.

* ``docker_host`` -- ``unix://…`` of the engine the tests use: ``$DOCKER_HOST`` when it answers
  (``scripts/test.sh`` starts one), else a private engine started for the session, in which
  case ``DOCKER_HOST`` is set for the session so code under test finds it too.
* ``docker_client`` -- a ``docker.DockerClient`` for that engine.
* ``base_image`` -- name of the offline Python 3.11 image (``$MODELPORT_BASE_IMAGE`` or
  ``modelport-base:bookworm``), built/imported if the engine lacks it.
* ``registry`` / ``registry_b`` -- two separate live registries (``.url``, ``.host``).
* ``auth_registry`` -- a registry requiring basic auth (``.username``, ``.password``).
* ``registry_factory`` -- ``registry_factory(**Registry options)`` starts more registries
  (e.g. with ``notifications=[url]``), stopped at the end of the test.
* ``state_path`` -- a fresh SQLite file path per test.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from moto_fixtures.services import BASE_IMAGE, DockerEngine, Registry, ensure_base_image


def _answers(url: str) -> bool:
    try:
        client = docker.DockerClient(base_url=url, timeout=10)
    except Exception:  # nothing listening there
        return False
    try:
        return bool(client.ping())
    except Exception:  # listening, but not a working engine
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def docker_host() -> Iterator[str]:
    """The engine URL: $DOCKER_HOST if it answers, else a private engine for this session."""
    url = os.environ.get("DOCKER_HOST")
    if url and _answers(url):
        yield url
        return
    engine = DockerEngine(die_with_parent=True).start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_HOST", engine.url)  # subprocesses and docker.from_env() follow
        try:
            yield engine.url
        finally:
            engine.stop()


@pytest.fixture(scope="session")
def docker_client(docker_host: str) -> Iterator[docker.DockerClient]:
    """A Docker SDK client for the session's engine (long timeout for builds and pushes)."""
    client = docker.DockerClient(base_url=docker_host, timeout=600)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    """Name of the offline Python 3.11 base image, present on the session's engine."""
    return ensure_base_image(docker_client, os.environ.get("MODELPORT_BASE_IMAGE", BASE_IMAGE))


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    """A live anonymous registry for the whole session."""
    with Registry() as reg:
        yield reg


@pytest.fixture(scope="session")
def registry_b() -> Iterator[Registry]:
    """A second, separate live registry (for copy/migrate between registries)."""
    with Registry() as reg:
        yield reg


@pytest.fixture(scope="session")
def auth_registry() -> Iterator[Registry]:
    """A live registry that requires basic auth with ``.username`` / ``.password``."""
    with Registry(username="modelport", password=secrets.token_urlsafe(18)) as reg:
        yield reg


@pytest.fixture
def registry_factory() -> Iterator[Callable[..., Registry]]:
    """Start extra registries with any :class:`Registry` options; all stop after the test."""
    started: list[Registry] = []

    def make(**options) -> Registry:
        reg = Registry(**options).start()
        started.append(reg)
        return reg

    try:
        yield make
    finally:
        for reg in reversed(started):
            reg.stop()


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    """Path of a not-yet-existing SQLite state file, fresh for each test."""
    return tmp_path / "state.sqlite"
