"""pytest plugin of the conformance suite. Enable it in a provider package's ``conftest.py``::

    pytest_plugins = ["modelport.testing.pytest_plugin"]

and define a ``conformance_target`` fixture (session scope is best: it usually starts an
emulator or prepares a platform) returning a :class:`~modelport.testing.harness.ConformanceTarget`.
Then subclass :class:`~modelport.testing.conformance.ProviderConformance` in a test module.

Fixtures it provides:

* ``conformance`` -- one :class:`~modelport.testing.harness.ConformanceEnv` per test class: a
  fresh deployment name, the two model versions, a private state store. At the end of the class
  the deployment is destroyed whatever happened, so a failed test leaves nothing behind.

The suite builds real images: the Docker engine comes from ``DOCKER_HOST`` (or the default
socket), and ``ConformanceTarget.base_image`` names a base image it has (default
``python:3.11-slim``).
"""

from __future__ import annotations

from typing import Iterator

import pytest

from .harness import ConformanceEnv, ConformanceTarget


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: the modelport provider conformance suite")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    from .conformance import ProviderConformance

    for item in items:
        cls = getattr(item, "cls", None)
        if cls is not None and issubclass(cls, ProviderConformance):
            item.add_marker("conformance")


@pytest.fixture(scope="session")
def conformance_target() -> ConformanceTarget:
    """Override this in your conftest: the target (and its emulator) under test."""
    raise pytest.UsageError(
        "the modelport conformance suite needs a `conformance_target` fixture returning "
        "modelport.testing.conformance.ConformanceTarget(settings={'provider': ..., ...})")


@pytest.fixture(scope="class")
def conformance(conformance_target: ConformanceTarget, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConformanceEnv]:
    """The deployment under test for one conformance class (destroyed at its end)."""
    if not isinstance(conformance_target, ConformanceTarget):
        raise pytest.UsageError(f"conformance_target returned {type(conformance_target).__name__}, "
                                "not a ConformanceTarget")
    env = ConformanceEnv(conformance_target, tmp_path_factory.mktemp("conformance"))
    try:
        yield env
    finally:
        env.cleanup()
