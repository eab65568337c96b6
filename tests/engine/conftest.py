"""Fixtures for engine tests on the in-memory provider."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import pytest

from modelport.engine.session import Session
from modelport.plugins import load_providers
from modelport.provider import ImageRef
from modelport.spec import load_spec
from modelport.state import StateStore

from modelport.testing.memory import MemoryPlugin, MemoryProvider

SAMPLE = {"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32",
                      "data": [[5.1, 3.5, 1.4, 0.2], [6.3, 2.8, 5.1, 1.5]]}]}


def write_spec(folder: Path, version: str, *, split: bool = True, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.bin").write_text(version)
    (folder / "sample.json").write_text(json.dumps(SAMPLE))
    (folder / "modelport.toml").write_text(f"""
[model]
name = "demo"
version = "{version}"
path = "model.bin"
framework = "custom"
predict = "model.bin"

[serving]
sample_input = "sample.json"
expected_output_shape = [2]

[rollout]
gate_timeout = 5
{extra}
[targets.mem]
provider = "memory"

[targets.other]
provider = "memory"
""")
    return folder


def image(version: str) -> ImageRef:
    digest = "sha256:" + (version.encode().hex() * 64)[:64]
    return ImageRef(digest, "sha256:" + "ab" * 32)


@contextmanager
def memory_session(tmp_path: Path, provider: MemoryProvider, plugin: str = "memory"):
    """A session whose only provider is ``provider`` (registered by ``plugin``), with its own state
    store; the provider's servers are closed at the end."""
    try:
        yield Session(state=StateStore(tmp_path / "state.db"),
                      providers=load_providers({plugin: MemoryPlugin(provider)}, use_entry_points=False))
    finally:
        provider.close()


@pytest.fixture
def memory(tmp_path):
    provider = MemoryProvider()
    with memory_session(tmp_path, provider) as session:
        yield provider, session


def loaded(folder: Path):
    return load_spec(folder)
