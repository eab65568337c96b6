"""Fixtures for the image build tests: one MODELPORT_HOME (wheel cache, OCI store, build cache)
for the session, and a project folder made from an example model."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from tests.environment import modelport_home_at

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="session")
def image_home(tmp_path_factory):
    """One image store, wheel cache and build cache for the session's build tests."""
    return tmp_path_factory.mktemp("image-home")


@pytest.fixture
def home(image_home):
    """MODELPORT_HOME set to the session's image home while the test runs."""
    with modelport_home_at(image_home) as path:
        yield path


@pytest.fixture
def project(tmp_path):
    """Factory: copy an example model into ``tmp_path/<folder>`` with a unique name."""

    model = f"iris-{uuid.uuid4().hex[:8]}"  # one model name per test: its image tag is the test's own

    def make(example: str = "iris", folder: str = "p", extra: str = "") -> Path:
        dest = tmp_path / folder
        shutil.copytree(EXAMPLES / example, dest, ignore=shutil.ignore_patterns("train.py", "__pycache__"))
        toml = (dest / "modelport.toml").read_text().replace('name = "iris"', f'name = "{model}"', 1)
        (dest / "modelport.toml").write_text(f'name = "b{uuid.uuid4().hex[:8]}"\n' + toml + extra)
        return dest

    return make
