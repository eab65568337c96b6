"""Fixtures of the access tests: the local end-to-end fixtures (one MODELPORT_HOME, a session on a
fresh state file, unique deployment names) and a fresh API key in a unique environment variable."""

from __future__ import annotations

import secrets
import uuid

import pytest

from tests.local.conftest import modelport_home, session, unique_name  # noqa: F401  (fixtures)


@pytest.fixture
def api_key(monkeypatch) -> tuple[str, str]:
    """``(variable, key)``: a random key exported under a unique variable name for ``env:``."""
    variable, key = f"MP_TEST_KEY_{uuid.uuid4().hex[:8].upper()}", secrets.token_urlsafe(24)
    monkeypatch.setenv(variable, key)
    return variable, key
