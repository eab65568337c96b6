"""Fixtures for the serving runtime tests (helpers live in runtime_helpers.py)."""

from __future__ import annotations

from typing import Iterator

import pytest
from starlette.testclient import TestClient

from runtime_helpers import config_for, serving


@pytest.fixture(scope="module")
def iris_client() -> Iterator[TestClient]:
    """The sklearn iris model served in-process."""
    with serving(config_for("iris")) as client:
        yield client
