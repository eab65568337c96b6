"""Fixtures for end-to-end tests on the local provider (real Docker engine)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from modelport.engine.session import Session
from modelport.state import StateStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="session", autouse=True)
def modelport_home(tmp_path_factory):
    """One local image store and wheel cache for the session."""
    home = tmp_path_factory.mktemp("mphome")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELPORT_HOME", str(home))
        yield home


def make_project(dest: Path, example: str, name: str, extra: str = "") -> Path:
    """Copy an example model to ``dest`` and give it a unique deployment name."""
    shutil.copytree(EXAMPLES / example, dest, ignore=shutil.ignore_patterns("train.py", "__pycache__"))
    toml = (dest / "modelport.toml").read_text()
    (dest / "modelport.toml").write_text(f'name = "{name}"\n' + toml + extra)
    return dest


@pytest.fixture
def unique_name():
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def session(tmp_path, docker_host, base_image):
    return Session(state=StateStore(tmp_path / "state.db"))


@pytest.fixture
def cleanup(docker_client):
    """Remove every container a test's deployments left (by label) at the end."""
    names: list[str] = []
    yield names
    for name in names:
        for c in docker_client.containers.list(all=True, filters={"label": f"io.modelport.deployment={name}"}):
            c.remove(force=True)
