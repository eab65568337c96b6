"""The printed IAM policy is enough and every action in it is needed: a deployment with
credentials holding only that policy succeeds under moto's IAM enforcement; without one action
it fails with a ProviderError naming it (run in a subprocess: see tests/providers/aws/iam_proof.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from modelport.cli import main
from modelport_providers.aws import iam
from modelport_providers.aws.settings import AwsSettings
from tests.providers.aws.helpers import REPO, write_spec

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

# Called only in situations this proof does not create (a resumed secret write).
NOT_EXERCISED = {"secretsmanager:PutSecretValue"}


@pytest.fixture(scope="module")
def proof(tmp_path_factory, modelport_home_dir, docker_host):
    out = tmp_path_factory.mktemp("iam") / "report.json"
    env = {**os.environ, "MODELPORT_HOME": str(modelport_home_dir), "DOCKER_HOST": docker_host,
           "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "tests.providers.aws.iam_proof", str(out)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=840)
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(out.read_text())


def test_deployment_with_only_the_policy_succeeds(proof):
    full = proof["full"]
    assert "error" not in full, full.get("error")
    assert (full["status"], full["version"]) == ("succeeded", "v1")
    assert {"load balancer", "target group", "listener", "ecs service", "task definition", "secret", "iam role",
            "log group", "security group", "ecs cluster"} <= set(full["resources"])
    assert full["left"] == []


def test_the_policy_is_exactly_what_the_provider_calls(proof):
    called, granted = set(proof["called_actions"]), set(proof["policy_actions"])
    assert called - iam.ALWAYS_ALLOWED <= granted
    implied = iam.actions(AwsSettings(registry="x/y")) - iam.actions(AwsSettings(registry="x/y"), implied=False)
    assert granted - called == implied | NOT_EXERCISED


def test_removing_one_action_fails_with_a_clear_provider_error(proof):
    reduced = proof["reduced"]
    assert reduced["type"] == "ProviderError", reduced
    assert reduced["operation"] == proof["removed"]
    assert proof["removed"] in reduced["message"] and "iam-policy --to aws" in reduced["message"]
    assert reduced["left"] == []  # the failed deploy was rolled back completely


def test_cli_prints_the_policy(tmp_path):
    spec = write_spec(tmp_path / "spec", "iris-cli", "v1", {"region": "eu-west-1", "cluster": "shared"})
    result = CliRunner().invoke(main, ["iam-policy", "--to", "aws", str(spec)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert {a for s in doc["Statement"] for a in s["Action"]} == iam.actions(AwsSettings(region="eu-west-1",
                                                                                         cluster="shared"))
    refused = CliRunner().invoke(main, ["iam-policy", "--to", "dev", str(spec)])
    assert refused.exit_code == 2 and "has no IAM policy" in refused.output
