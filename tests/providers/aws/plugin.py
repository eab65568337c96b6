"""Fixtures shared by the aws test modules (loaded with ``pytest_plugins``, so there is one
instance per session): a MODELPORT_HOME whose image builds and OCI store every module reuses."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def modelport_home_dir(tmp_path_factory, base_image) -> Path:
    """One MODELPORT_HOME for the session (the base image is present once it exists)."""
    return tmp_path_factory.mktemp("modelport-home")


@pytest.fixture
def modelport_home(modelport_home_dir: Path, monkeypatch) -> Path:
    """MODELPORT_HOME set to the session's directory for one test."""
    monkeypatch.setenv("MODELPORT_HOME", str(modelport_home_dir))
    return modelport_home_dir
