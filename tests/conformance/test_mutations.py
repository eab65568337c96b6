"""Mutation test of the conformance suite: each bug planted in the in-memory provider
(``mutants.py``) is caught, and by the clause meant for it; the provider without a bug passes.

Each mutant runs the suite in its own pytest process, as a plugin author would, stopping at the
first failing clause (``-x``) except for the health bug, which runs to the end to show that the
clauses needing the failed one are skipped with the reason instead of failing in cascade.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mutants import CAUGHT_BY  # tests/conformance is on sys.path (no package)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1500)]

CONFTEST = '''
import os
import socket

import pytest

import mutants
from modelport.testing.conformance import ConformanceTarget

pytest_plugins = ["modelport.testing.pytest_plugin"]


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def conformance_target():
    provider = getattr(mutants, os.environ["MUTANT"])()
    yield ConformanceTarget(
        settings={"provider": "memory"}, peer_settings={"provider": "memory"},
        bad_settings={"provider": "memory", "api": f"http://127.0.0.1:{_closed_port()}"},
        api_settings=lambda url: {"provider": "memory", "api": url},
        base_image=os.environ["CONF_BASE_IMAGE"], plugins={"mutant-plugin": mutants.Plugin(provider)},
        env={"FAKE_BROKEN": "loading"}, gate_timeout=8, runs_images=False)
    provider.close()
'''

TESTS = '''
from modelport.testing.conformance import ProviderConformance


class TestMutant(ProviderConformance):
    pass
'''


def _run(folder: Path, mutant: str, base_image: str, home: Path, stop_first: bool) -> dict[str, str]:
    """Run the suite on ``mutant``; clause name -> "passed", "skipped: reason" or the failure text."""
    report = folder / f"{mutant}.xml"
    env = {**os.environ, "MUTANT": mutant, "CONF_BASE_IMAGE": base_image, "MODELPORT_HOME": str(home),
           "PYTHONPATH": os.pathsep.join([str(folder), str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--rootdir", str(folder),
            f"--junitxml={report}", str(folder / "test_mutant.py"), *(["-x"] if stop_first else [])]
    proc = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, timeout=1200)
    assert report.exists(), proc.stdout[-3000:] + proc.stderr[-2000:]
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        skipped = case.find("skipped")
        outcomes[case.get("name")] = (f"failed: {failure.get('message')}\n{failure.text or ''}" if failure is not None
                                      else f"skipped: {skipped.get('message')}" if skipped is not None else "passed")
    return outcomes


@pytest.fixture(scope="module")
def suite_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mutations")
    for name, text in {"conftest.py": CONFTEST, "test_mutant.py": TESTS}.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def test_every_planted_bug_is_caught_by_its_clause(suite_folder, base_image, conformance_home):
    sound = _run(suite_folder, "Sound", base_image, conformance_home, stop_first=False)  # builds the images once
    problems = {k: v for k, v in sound.items() if not (v == "passed" or v.startswith("skipped: the provider declares"))}
    assert not problems, f"the provider without a bug must pass every clause: {problems}"
    mutants = [m for m in CAUGHT_BY if m != "HealthReadyTooEarly"]
    with ThreadPoolExecutor(2) as pool:
        results = dict(zip(mutants, pool.map(lambda m: _run(suite_folder, m, base_image, conformance_home, True),
                                             mutants)))
    for mutant, outcomes in results.items():
        clause, fragment = CAUGHT_BY[mutant]
        failed = [name for name, text in outcomes.items() if text.startswith("failed")]
        assert failed == [clause], f"{mutant}: expected clause {clause} to fail first, got {failed}: {outcomes}"
        assert fragment in outcomes[clause], f"{mutant}: {clause} failed without naming the bug: {outcomes[clause]}"


def test_a_failed_clause_skips_the_clauses_that_need_it(suite_folder, base_image, conformance_home):
    outcomes = _run(suite_folder, "HealthReadyTooEarly", base_image, conformance_home, stop_first=False)
    clause, fragment = CAUGHT_BY["HealthReadyTooEarly"]
    failed = [name for name, text in outcomes.items() if text.startswith("failed")]
    assert failed == [clause] and fragment in outcomes[clause], outcomes
    for name in ("test_plan_after_deploy_is_empty", "test_canary_or_refusal", "test_rollback",
                 "test_fault_at_every_primitive_rolls_back"):
        assert outcomes[name].startswith("skipped") and "which did not pass" in outcomes[name], (name, outcomes[name])
