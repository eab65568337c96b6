"""``modelport new-provider NAME`` writes a package that installs, registers its provider and
passes the conformance suite's pure clauses at once; ``modelport providers --strict`` fails when
a plugin cannot load, naming its distribution."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from modelport.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _install(package: Path, site: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(package)], check=True, capture_output=True, timeout=300)


def _run(args: list[str], cwd: Path, *sites: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(s) for s in sites)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_a_bad_name_is_refused_before_writing(tmp_path):
    result = CliRunner().invoke(main, ["new-provider", "Fly-IO", "--path", str(tmp_path)])
    assert result.exit_code == 2 and "lowercase identifier" in result.output, result.output
    assert list(tmp_path.iterdir()) == []


def test_the_scaffold_installs_and_passes_the_pure_clauses(tmp_path):
    result = CliRunner().invoke(main, ["new-provider", "fly_io", "--path", str(tmp_path), "-o", "json"])
    assert result.exit_code == 0, result.output
    folder = Path(json.loads(result.stdout)["path"])
    assert folder.name == "modelport-fly-io" and (folder / "modelport_fly_io" / "provider.py").exists()
    site = tmp_path / "site"
    _install(folder, site)

    listed = _run(["-m", "modelport", "providers", "--strict", "-o", "json"], tmp_path, site)
    assert listed.returncode == 0, listed.stderr
    assert "fly_io" in [p["name"] for p in json.loads(listed.stdout)["providers"]]

    report = tmp_path / "pure.xml"
    proc = _run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-m", "conformance_pure",
                 f"--junitxml={report}"], folder, site)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    cases = {c.get("name"): c for c in ET.parse(report).getroot().iter("testcase")}
    assert set(cases) == {"test_settings_are_validated", "test_sizes",
                          "test_translate_is_plain_data_without_secret_values"}
    assert cases["test_settings_are_validated"].find("failure") is None


def test_providers_strict_names_the_distribution_that_failed(tmp_path):
    broken = tmp_path / "broken"
    (broken / "modelport_broken").mkdir(parents=True)
    (broken / "modelport_broken" / "__init__.py").write_text("")
    (broken / "modelport_broken" / "plugin.py").write_text("import no_such_sdk_module\n")
    (broken / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "modelport-broken-example"\nversion = "1.0"\n'
        '[project.entry-points."modelport.providers"]\nbrokenx = "modelport_broken.plugin"\n'
        '[tool.setuptools]\npackages = ["modelport_broken"]\n')
    site = tmp_path / "site"
    _install(broken, site)
    lenient = _run(["-m", "modelport", "providers"], tmp_path, site)
    assert lenient.returncode == 0 and "BROKEN" in lenient.stdout, lenient.stdout + lenient.stderr
    strict = _run(["-m", "modelport", "providers", "--strict"], tmp_path, site)
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "modelport-broken-example" in strict.stderr and "no_such_sdk_module" in strict.stderr, strict.stderr
