"""The example pipeline (examples/release_pipeline.py) on the in-memory provider: it deploys to
staging and promotes the same digest to prod, and acts on a failed gate (1), a held lock (3)
and an unfinished operation (4) by their exit codes. Only the image build is replaced (by the
digest of each version): the deploy, promote, gates, locks and journal are real."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import modelport.api as mp
from modelport.state import StateStore

from tests.engine.conftest import image, loaded, write_spec
from tests.engine.test_journal import _swap_to_v2

from .conftest import journal_killed

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pipeline(memory, monkeypatch):
    spec = importlib.util.spec_from_file_location("release_pipeline", ROOT / "examples" / "release_pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # the build: the image of each version is given (the memory provider runs no image)
    monkeypatch.setattr(mp, "_built_image", lambda s, loaded_spec: image(loaded_spec.spec.model.version))
    provider, session = memory
    return lambda *argv: module.main(list(argv), session=session)


ARGS = ("--staging", "mem", "--prod", "other")


def test_the_pipeline_promotes_the_staging_digest_and_prints_a_timed_summary(pipeline, memory, tmp_path, capsys):
    provider, session = memory
    assert pipeline(str(write_spec(tmp_path / "v1", "1")), *ARGS) == 0
    assert pipeline(str(write_spec(tmp_path / "v2", "2")), *ARGS, "--strategy", "canary", "--steps", "50,100") == 0
    out = capsys.readouterr().out
    assert f"released {image('2').digest} to other" in out
    assert "release summary:" in out and "promote" in out and "gates passed/run:" in out
    served = {r["target"]: r["digest"] for r in session.state.deployments("demo")}
    assert served == {"mem": image("2").digest, "other": image("2").digest}
    assert {"r1": 50, "r2": 50} in provider.traffic_log  # the canary step on prod


def test_the_pipeline_stops_on_a_failed_gate_with_1(pipeline, memory, tmp_path, capsys):
    provider, session = memory
    assert pipeline(str(write_spec(tmp_path / "v1", "1")), *ARGS) == 0
    bad = write_spec(tmp_path / "v3", "3", extra='[env]\nFAKE_BROKEN = "wrong-shape"\n')
    assert pipeline(str(bad), *ARGS, "--strategy", "blue-green") == 1
    assert "rolled back, the previous version still serves" in capsys.readouterr().err
    assert provider.traffic["mem/demo"] == {"r1": 100} and provider.traffic["other/demo"] == {"r1": 100}


def test_the_pipeline_stops_on_a_held_lock_with_3(pipeline, memory, tmp_path, capsys):
    provider, session = memory
    other = StateStore(session.state.path)
    other.acquire_lock("demo", "modelport swap (another pipeline)")
    try:
        assert pipeline(str(write_spec(tmp_path / "v1", "1")), *ARGS, "--wait-lock", "0.2") == 3
    finally:
        other.release_lock("demo")
        other.close()
    assert "locked by modelport swap (another pipeline)" in capsys.readouterr().err
    assert provider.writes == []


def test_the_pipeline_reports_an_unfinished_operation_with_4_or_aborts_it(pipeline, memory, tmp_path, capsys):
    provider, session = memory
    mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "mem", image("1"), session=session)
    steps, context = _swap_to_v2(write_spec(tmp_path / "v2", "2") / "modelport.toml")
    journal_killed(session.state.path, "swap", steps, context, done=3)
    v2 = str(tmp_path / "v2")
    assert pipeline(v2, *ARGS) == 4
    assert "left ['gate: mem endpoint answers the smoke request', 'record the deployment']" in capsys.readouterr().err
    assert pipeline(v2, *ARGS, "--recover", "abort") == 0
    assert "abort: operation #" in capsys.readouterr().err
    assert session.state.unfinished("demo") is None
