"""Fixtures for the release gates on the in-memory provider (analysis, validation)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from modelport.testing.memory import MemoryProvider

from tests.engine.conftest import memory_session, write_spec


@pytest.fixture
def memory(tmp_path):
    """``(provider, session)``: a fresh in-memory provider and its own state store."""
    provider = MemoryProvider()
    with memory_session(tmp_path, provider) as session:
        yield provider, session


def eval_rows(version: str, rows: int = 4) -> str:
    """An evaluation set whose right answer is ``version`` (the memory model answers its version)."""
    row = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [[5.1, 3.5, 1.4, 0.2]]}],
           "expected": [version]}
    return "\n".join(json.dumps(row) for _ in range(rows)) + "\n"


def gated_spec(folder: Path, version: str, *, analysis: str = "", validation: str = "", env: str = "",
               dataset_version: str = "2") -> Path:
    """The memory test model ``version`` with ``[rollout.analysis]`` and ``[validation]`` lines."""
    extra = ""
    if analysis:
        extra += f"[rollout.analysis]\n{analysis}\n"
    if validation:
        extra += f'[validation]\ndataset = "eval.jsonl"\n{validation}\n'
    if env:
        extra += f'[env]\nFAKE_BROKEN = "{env}"\n'
    write_spec(folder, version, extra=extra)
    (folder / "eval.jsonl").write_text(eval_rows(dataset_version))
    return folder


@pytest.fixture
def unique_name():
    """A deployment name no other test (or worker) uses."""
    return f"g{uuid.uuid4().hex[:8]}"
