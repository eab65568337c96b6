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
    config.addinivalue_line("markers", "conformance_pure: conformance clauses that make no platform call "
                                       "and build nothing")


#: clauses that failed (or were skipped for a failed clause they need), per conformance class
_broken: dict[str, set[str]] = {}


def _clause(item: pytest.Item):
    """The conformance class and clause name of ``item`` (None for other tests)."""
    from .conformance import ProviderConformance

    cls = getattr(item, "cls", None)
    if cls is None or not issubclass(cls, ProviderConformance):
        return None
    return cls, getattr(item, "originalname", None) or item.name


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a clause when a clause it needs failed: its failure would only repeat that one's."""
    found = _clause(item)
    if found is None:
        return
    cls, name = found
    broken = _broken.setdefault(item.parent.nodeid, set())
    missing = [n for n in cls.clause_needs.get(name, ()) if n in broken]
    if missing:
        broken.add(name)
        pytest.skip(f"not run: it needs clause {', '.join(missing)}, which did not pass (fix that first)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Remember failed clauses; name the clause when the provider raised instead of an assertion."""
    outcome = yield
    report = outcome.get_result()
    found = _clause(item)
    if found is None or not report.failed:
        return
    cls, name = found
    _broken.setdefault(item.parent.nodeid, set()).add(name)
    exc = call.excinfo.value if call.excinfo is not None else None
    if exc is not None and not isinstance(exc, AssertionError):
        from ..errors import ModelportError, ProviderError

        doc = (getattr(cls, name).__doc__ or "").strip().splitlines()[0:1]
        # a ProviderError or a foreign exception came from the provider; other modelport errors
        # are the engine refusing or undoing what the provider did
        who = "the provider raised" if isinstance(exc, ProviderError) or not isinstance(exc, ModelportError) \
            else "the operation failed with"
        report.longrepr = (f"clause {name} ({doc[0] if doc else 'no description'}): {who} "
                           f"{type(exc).__name__}: {exc}\n\n{report.longrepr}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    from .conformance import ProviderConformance

    for item in items:
        cls = getattr(item, "cls", None)
        if cls is not None and issubclass(cls, ProviderConformance):
            item.add_marker("conformance")
            if (getattr(item, "originalname", None) or item.name) in cls.pure_clauses:
                item.add_marker("conformance_pure")


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
