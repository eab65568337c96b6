"""Fixtures for the plugin-example tests: the swarm of the session's Docker engine, and
modelport-swarm installed from examples/provider-plugin into a private folder."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN_SRC = REPO / "examples" / "provider-plugin"


@pytest.fixture(scope="session")
def swarm(docker_client, base_image) -> Iterator[None]:
    """The session's engine as a swarm manager: initialised here (on a private 127.0.0.1 port)
    when it is not one, and then left at the end; an existing swarm is left alone."""
    initialised = (docker_client.info().get("Swarm") or {}).get("LocalNodeState") != "active"
    if initialised:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            addr = f"127.0.0.1:{sock.getsockname()[1]}"
        docker_client.swarm.init(advertise_addr=addr, listen_addr=addr)
    try:
        yield
    finally:
        if initialised:
            docker_client.swarm.leave(force=True)


@dataclass
class Installed:
    """modelport-swarm installed into ``site``; ``env`` runs Python with it importable."""

    site: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 900, cwd: Path = REPO) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], env=self.env, cwd=cwd, capture_output=True,
                              text=True, timeout=timeout)

    def modelport(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return self.run("-m", "modelport", *args, timeout=timeout)


def _pip_install(source: Path, site: Path) -> None:
    """pip install the plugin into ``site`` from a copy of its folder (the repo stays clean)."""
    copy = site.parent / "src"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(copy)]
    # without build isolation pip uses this environment's setuptools, which needs `wheel` before 70.1
    if importlib.util.find_spec("wheel") or _setuptools_builds_wheels():
        command.insert(4, "--no-build-isolation")
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"


def _setuptools_builds_wheels() -> bool:
    from importlib.metadata import version

    from packaging.version import Version

    return Version(version("setuptools")) >= Version("70.1")


@pytest.fixture(scope="module")
def installed(tmp_path_factory, docker_host, base_image, swarm) -> Installed:
    """The plugin installed into a temporary folder; subprocesses see it through PYTHONPATH only."""
    root = tmp_path_factory.mktemp("plugin")
    site = root / "site"
    _pip_install(PLUGIN_SRC, site)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])]),
           "DOCKER_HOST": docker_host, "MODELPORT_BASE_IMAGE": base_image,
           "MODELPORT_HOME": str(root / "home"), "MODELPORT_STATE": str(root / "state.db")}
    return Installed(site, env)
