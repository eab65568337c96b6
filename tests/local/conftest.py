"""Fixtures for end-to-end tests on the local provider (real Docker engine)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from modelport.engine.session import Session
from modelport.state import StateStore
from tests.environment import modelport_home_at

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="session", autouse=True)
def modelport_home(tmp_path_factory):
    """One local image store and wheel cache for the session."""
    with modelport_home_at(tmp_path_factory.mktemp("mphome")) as home:
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
