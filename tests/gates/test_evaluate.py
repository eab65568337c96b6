"""``modelport evaluate`` on the in-memory provider: the table, ``--output json``, ``--revision``
with agreement, ``--against`` another target with the same digest, and the exit codes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import modelport.api as mp
import modelport.plugins as plugins
from modelport.cli import main
from modelport.plugins import load_providers
from modelport.testing.memory import MemoryPlugin

from tests.engine.conftest import image, loaded, write_spec

from .conftest import gated_spec


@pytest.fixture
def cli(memory, monkeypatch):
    provider, session = memory
    monkeypatch.setattr(plugins, "_default", load_providers({"memory": MemoryPlugin(provider)}, use_entry_points=False))

    def run(*args: str):
        result = CliRunner().invoke(main, ["--state", str(session.state.path), *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return run


def test_evaluate_table_json_against_and_revision(memory, cli, tmp_path):
    provider, session = memory
    v1 = write_spec(tmp_path / "v1", "1")
    mp.deploy_image(loaded(v1), "mem", image("1"), session=session)
    v2 = gated_spec(tmp_path / "v2", "2", validation="min_accuracy = 0.9")
    for target in ("mem", "other"):
        mp.deploy_image(loaded(v2), target, image("2"), session=session)

    code, out, _ = cli("evaluate", str(v2), "--to", "mem", "--against", "other", "-o", "json")
    result = json.loads(out)
    assert code == 0 and result["passed"] and result["accuracy"] == 1.0 and result["rows"] == 4
    assert result["against"]["target"] == "other" and result["against"]["digest"] == result["digest"]
    assert result["against"]["max_abs_difference"] == 0.0 and result["against"]["identical_rows"] == 4

    code, out, _ = cli("evaluate", str(v2), "--to", "mem", "--revision", "r1")
    assert code == 1, "an evaluation below the thresholds exits 1"
    assert "accuracy" in out and "agreement with r2" in out and "FAILED: accuracy 0.00% is below" in out

    code, out, _ = cli("evaluate", str(v2), "--to", "mem", "--against", "other")
    assert code == 0 and "largest output difference mem vs other: 0 (4 of 4 rows identical)" in out


def test_evaluate_refuses_what_it_cannot_run(memory, cli, tmp_path):
    provider, session = memory
    plain = write_spec(tmp_path / "plain", "1")
    code, out, err = cli("evaluate", str(plain), "--to", "mem")
    assert code == 2 and "validation.dataset" in err
    v2 = gated_spec(tmp_path / "v2", "2", validation="min_accuracy = 0.9")
    code, _, err = cli("evaluate", str(v2), "--to", "mem")
    assert code == 2 and "not serving on mem" in err
    mp.deploy_image(loaded(v2), "mem", image("2"), session=session)
    mp.deploy_image(loaded(v2), "other", image("3"), session=session)
    code, _, err = cli("evaluate", str(v2), "--to", "mem", "--against", "other")
    assert code == 2 and "the comparison needs the same image" in err
