"""Fixtures the provider test modules share: a fresh session per test, step callbacks through the
public :attr:`Session.before_step`, and clean-up of local containers."""

from __future__ import annotations

import pytest

from modelport.engine.session import Session
from modelport.state import StateStore


@pytest.fixture
def session(tmp_path) -> Session:
    """A session with its own state store (and the installed providers)."""
    return Session(state=StateStore(tmp_path / "state.db"))


@pytest.fixture
def on_step(session: Session) -> list:
    """Callables ``(index, step)`` run before each step of the session's next operations."""
    callbacks: list = []
    session.before_step = lambda i, step: [cb(i, step) for cb in callbacks]
    return callbacks
