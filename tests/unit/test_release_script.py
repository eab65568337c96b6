"""The example release script on the in-memory provider: canary succeeds, a failed gate exits 1."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import modelport.api as mp
from modelport.engine.session import Session
from modelport.plugins import load_providers
from modelport.state import StateStore
from modelport.testing.memory import MemoryPlugin, MemoryProvider

ROOT = Path(__file__).resolve().parents[2]


def load_script():
    spec = importlib.util.spec_from_file_location("release", ROOT / "examples" / "release.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def patched(monkeypatch, tmp_path):
    provider = MemoryProvider()
    session = Session(state=StateStore(tmp_path / "s.db"),
                      providers=load_providers({"memory": MemoryPlugin(provider)}, use_entry_points=False))
    # the script builds an image; here the image of each version is given, the rest is real
    from tests.engine.conftest import image, loaded

    def swap(path, target, strategy, steps, session=None):
        version = loaded(path).spec.model.version
        return mp.deploy_image(loaded(path), target, image(version), strategy=strategy, steps=steps, session=session_)

    session_ = session
    monkeypatch.setattr(mp, "swap", swap)
    yield provider, session
    provider.close()


def test_release_script_canary_then_failed_gate(patched, tmp_path, capsys):
    from tests.engine.conftest import write_spec

    provider, _session = patched
    script = load_script()
    assert script.main([str(write_spec(tmp_path / "v1", "1")), "--to", "mem"]) == 0
    assert script.main([str(write_spec(tmp_path / "v2", "2")), "--to", "mem", "--steps", "20,100"]) == 0
    assert provider.traffic_log[-2:] == [{"r1": 80, "r2": 20}, {"r2": 100}]
    bad = write_spec(tmp_path / "v3", "3", extra='[env]\nFAKE_BROKEN = "wrong-shape"\n')
    assert script.main([str(bad), "--to", "mem"]) == 1
    assert "previous version still serving" in capsys.readouterr().err
    assert provider.traffic["mem/demo"] == {"r2": 100}
