"""The conformance suite catches a broken provider, with messages naming the broken clause.

A provider (the local one with two deliberate bugs: translate shows secret values, and
delete_revision deletes nothing) is run through the suite in a separate pytest process, as a
plugin author would; the test reads the junit report and requires the right tests to fail with
the right messages and the rest to pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1200)]

BROKEN = '''
from modelport.hookspecs import hookimpl
from modelport_providers.local.provider import LocalProvider


class BrokenLocal(LocalProvider):
    name = "brokenlocal"

    def translate(self, rev, target):
        return {**super().translate(rev, target), "secret_values": dict(rev.secret_values)}

    def delete_revision(self, target, deployment, revision):
        pass  # the bug: nothing is deleted


@hookimpl
def modelport_register_providers(register):
    register(BrokenLocal())
'''

CONFTEST = '''
import os

import pytest

import broken_provider
from modelport.testing.conformance import ConformanceTarget

pytest_plugins = ["modelport.testing.pytest_plugin"]


@pytest.fixture(scope="session")
def conformance_target():
    return ConformanceTarget(settings={"provider": "brokenlocal"}, base_image=os.environ["CONF_BASE_IMAGE"],
                             plugins={"broken-plugin": broken_provider}, gate_timeout=60)
'''

TESTS = '''
from modelport.testing.conformance import ProviderConformance


class TestBroken(ProviderConformance):
    pass
'''


def test_suite_fails_a_broken_provider_with_clear_messages(tmp_path, base_image, conformance_home):
    for name, text in {"broken_provider.py": BROKEN, "conftest.py": CONFTEST, "test_broken.py": TESTS}.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    report = tmp_path / "report.xml"
    env = {**os.environ, "CONF_BASE_IMAGE": base_image, "MODELPORT_HOME": str(conformance_home),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           f"--junitxml={report}", str(tmp_path / "test_broken.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1100)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failure = case.find("failure")
        outcomes[case.get("name")] = (failure.get("message") + "\n" + (failure.text or "")) if failure is not None else (
            "skipped" if case.find("skipped") is not None else "passed")
    assert "must not contain a secret value" in outcomes["test_translate_is_plain_data_without_secret_values"]
    assert "delete_revision must delete the revision" in outcomes["test_revision_create_and_delete"]
    fault = outcomes["test_fault_at_every_primitive_rolls_back"]
    assert "fault in" in fault or "version 1 must serve" in fault, fault
    for name in ("test_settings_are_validated", "test_deploy", "test_plan_after_deploy_is_empty",
                 "test_health_and_endpoint", "test_rollback"):
        assert outcomes[name] == "passed", (name, outcomes[name])
