"""The spec: a corpus of broken files, each exit code 2 naming the field; good files load."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from modelport.cli import main
from modelport.errors import SpecErrors
from modelport.spec import load_spec

CORPUS = Path(__file__).parent / "spec_corpus"
CASES = sorted(CORPUS.glob("*.toml"))


def _project(tmp_path: Path, toml: str) -> Path:
    (tmp_path / "model.joblib").write_bytes(b"not really a model")
    (tmp_path / "bad_sample.json").write_text('{"instances": [1]}')
    (tmp_path / "modelport.toml").write_text(toml)
    return tmp_path


def _expected_field(text: str) -> str:
    return text.splitlines()[0].removeprefix("# expect:").strip()


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_broken_spec_exit_2_names_field(case: Path, tmp_path: Path) -> None:
    text = case.read_text()
    project = _project(tmp_path, text)
    result = CliRunner().invoke(main, ["validate", str(project), "--output", "json"])
    assert result.exit_code == 2, result.output
    payload = json.loads(result.stdout)
    fields = [e["field"] for e in payload.get("errors", [payload])]
    expected = _expected_field(text)
    assert any(f == expected or (expected and f.startswith(expected)) for f in fields), fields
    assert all(str(project / "modelport.toml") == e["file"] for e in payload.get("errors", [payload]))
    assert "Traceback" not in result.output


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    project = _project(tmp_path, (CORPUS / "typo_in_model.toml").read_text())
    with pytest.raises(SpecErrors) as err:
        load_spec(project)
    assert "did you mean 'framework'?" in str(err.value)


def test_unknown_target_key_suggests(tmp_path: Path) -> None:
    project = _project(tmp_path, (CORPUS / "target_unknown_key.toml").read_text())
    result = CliRunner().invoke(main, ["validate", str(project)])
    assert result.exit_code == 2
    assert "did you mean 'docker_host'?" in result.output


def test_every_error_reported_at_once(tmp_path: Path) -> None:
    text = (CORPUS / "port_range.toml").read_text() + "\n[resources]\ncpu = -1\n"
    with pytest.raises(SpecErrors) as err:
        load_spec(_project(tmp_path, text))
    assert {e.field for e in err.value.errors} == {"serving.port", "resources.cpu"}


def test_example_spec_is_valid() -> None:
    result = CliRunner().invoke(main, ["validate", "examples/iris", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deployment"] == "iris"


def test_memory_units(tmp_path: Path) -> None:
    base = (CORPUS / "port_range.toml").read_text().split("[serving]")[0]
    for text, mib in (("'2Gi'", 2048), ("512", 512), ("'1.5Gi'", 1536), ("'256Mi'", 256)):
        loaded = load_spec(_project(tmp_path, base + f"\n[resources]\nmemory = {text}\n"))
        assert loaded.spec.resources.memory == mib


def test_missing_file_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_schema_lists_providers_settings() -> None:
    result = CliRunner().invoke(main, ["schema", "-o", "json"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    variants = schema["properties"]["targets"]["additionalProperties"]["oneOf"]
    local = next(v for v in variants if v["properties"]["provider"] == {"const": "local"})
    assert "docker_host" in local["properties"]
    assert schema["properties"]["model"]["$ref"].endswith("ModelSection")


def test_installed_command_runs() -> None:
    exe = shutil.which("modelport") or str(Path(sys.executable).parent / "modelport")
    proc = subprocess.run([exe, "validate", "examples/iris", "-o", "json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
