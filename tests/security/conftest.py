"""Fixtures of the secret-scan tests: seeded secrets for the session, one MODELPORT_HOME (one
build) for the session, and per module a scanner, a state file and a CLI runner."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from .harness import REGISTRY_USER_VAR, Cli, Leaks, secret_env, seed_secrets
from .seeds import Scanner

_TOTALS: dict[str, list[int]] = {}
_COMMANDS: list[tuple[str, int, float]] = []


@pytest.fixture(scope="session")
def seeds(auth_registry):
    """Fresh random secret values, by kind."""
    return seed_secrets(auth_registry.password)


@pytest.fixture(scope="session")
def scan_home(tmp_path_factory, base_image) -> Path:
    """One MODELPORT_HOME for every security module (images are built once)."""
    return tmp_path_factory.mktemp("scan-home")


def pytest_terminal_summary(terminalreporter) -> None:
    """What was scanned (items and bytes per source) and the slowest commands."""
    if not _TOTALS:
        return
    write = terminalreporter.write_line
    write("secret scan: what was scanned")
    for source, (items, size) in sorted(_TOTALS.items()):
        write(f"  {source}: {items} item(s), {size} bytes")
    write(f"  modelport commands run: {len(_COMMANDS)}, {sum(c[2] for c in _COMMANDS):.0f} s; slowest:")
    for command, code, secs in sorted(_COMMANDS, key=lambda c: -c[2])[:8]:
        write(f"    {secs:>6.1f}s exit {code} {command[:110]}")


@pytest.fixture(scope="module")
def leaks(seeds, workdir):
    """The module's scanner (one per ``workdir``: a module testing several clouds overrides it
    per cloud); counts go to the session's totals."""
    found = Leaks(Scanner(list(seeds.values())))
    yield found
    for source, (items, size) in found.scanner.sources.items():
        total = _TOTALS.setdefault(source, [0, 0])
        total[0] += items
        total[1] += size


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """The module's projects and state file."""
    return tmp_path_factory.mktemp("scan")


@pytest.fixture(scope="module")
def user_env(seeds, scan_home, workdir, docker_host, auth_registry) -> dict[str, str]:
    """The environment of a user running modelport: the seeded secrets, a state file, the home."""
    env = {**os.environ, **secret_env(seeds), REGISTRY_USER_VAR: auth_registry.username, "MODELPORT_HOME": str(scan_home),
           "MODELPORT_STATE": str(workdir / "state.db"), "DOCKER_HOST": docker_host,
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("MODELPORT_DEBUG", None)
    return env


@pytest.fixture(scope="module")
def cli(leaks, user_env, workdir) -> Cli:
    """Runs ``modelport`` subprocesses with the user's environment, scanning their output."""
    runner = Cli(leaks, user_env, workdir)
    yield runner
    _COMMANDS.extend(runner.ran)


@pytest.fixture
def name() -> str:
    """A fresh deployment name."""
    return f"sec{uuid.uuid4().hex[:7]}"
