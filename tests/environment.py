"""The environment the tests run modelport in."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


@contextmanager
def modelport_home_at(home: Path, **env: str) -> Iterator[Path]:
    """``MODELPORT_HOME`` (its image store and wheel cache) set to ``home``, and ``env`` set, while
    the block runs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELPORT_HOME", str(home))
        for key, value in env.items():
            patch.setenv(key, value)
        yield home
