"""Prove the printed IAM policy: run as ``python -m tests.providers.aws.iam_proof OUT.json``.

Runs in its own process because it needs its own emulation (moto with IAM enforcement on) and
the emulation's /etc/hosts block is per process. Steps, all through the public API:

1. an IAM user holding ONLY ``provider.iam_policy(target)`` deploys (with a Secrets Manager
   reference and a client-side secret), predicts, reads logs and resources, and destroys;
2. the same with one action removed from the policy: the deploy must fail with a ProviderError
   naming that action, and roll back without leaving tagged resources.

Writes a JSON report (what succeeded, the actions the provider called, the errors) to OUT.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

import modelport.api as mp
from moto_fixtures.aws import AwsEmulation
from tests.providers.aws.helpers import predict, session, tagged, unique, write_spec

REMOVED = "elasticloadbalancing:CreateTargetGroup"
USER = "modelport-deployer"


def grant(aws: AwsEmulation, policy: dict) -> None:
    """(Re)place the deployer's only policy, with the admin's credentials."""
    aws.client("iam").put_user_policy(UserName=USER, PolicyName="modelport", PolicyDocument=json.dumps(policy))


def without(policy: dict, action: str) -> dict:
    statements = [{**s, "Action": [a for a in s["Action"] if a != action]} for s in policy["Statement"]]
    return {**policy, "Statement": [s for s in statements if s["Action"]]}


def main(out: Path) -> None:
    report: dict = {}
    root = Path(tempfile.mkdtemp(prefix="iam-proof-"))
    with AwsEmulation(enforce_iam=True) as aws:
        iam = aws.client("iam")
        iam.create_user(UserName=USER)
        key = iam.create_access_key(UserName=USER)["AccessKey"]
        db = aws.client("secretsmanager").create_secret(Name="iam-proof/db", SecretString="pw-" + os.urandom(4).hex())
        os.environ.update(AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"],
                          MP_IAM_PROOF_TOKEN="tok-" + os.urandom(4).hex())
        settings = {"endpoint_url": aws.endpoint_url, "region": aws.region, "registry": f"{aws.registry}/modelport"}
        secrets = {"DB_PASSWORD": f"aws-sm:{db['ARN']}", "API_TOKEN": "env:MP_IAM_PROOF_TOKEN"}
        name = unique("iam")
        spec = write_spec(root / "spec", name, "v1", settings, secrets=secrets, local_targets=())
        s = session(root / "state.sqlite")
        provider, target = s.target(mp.validate(spec, s), "aws")
        policy = provider.iam_policy(target)
        report["policy_actions"] = sorted(a for st in policy["Statement"] for a in st["Action"])
        grant(aws, policy)
        report["full"] = run_full(s, spec, name, aws, provider, target)
        report["called_actions"] = sorted(provider.client(target).actions)
        grant(aws, without(policy, REMOVED))
        name2 = unique("iam")
        spec2 = write_spec(root / "spec2", name2, "v1", settings, secrets=secrets, local_targets=())
        report["reduced"] = run_reduced(session(root / "state2.sqlite"), spec2, name2, aws)
        report["removed"] = REMOVED
    out.write_text(json.dumps(report, indent=2))


def run_full(s, spec, name, aws, provider, target) -> dict:
    result: dict = {}
    try:
        deployed = mp.deploy(spec, "aws", session=s)
        result.update(status=deployed.status, endpoint=deployed.endpoint, version=predict(deployed.endpoint))
        result["logs_type"] = type(mp.logs(name, "aws", session=s)).__name__
        result["resources"] = sorted({r.kind for r in provider.list_resources(target) if r.deployment == name})
        mp.destroy(name, "aws", session=s)
        result["left"] = tagged(aws, name)
    except Exception as exc:  # the report says what failed; the test asserts on it
        result["error"] = {"type": type(exc).__name__, "message": str(exc), "trace": traceback.format_exc()[-3000:]}
    return result


def run_reduced(s, spec, name, aws) -> dict:
    try:
        mp.deploy(spec, "aws", session=s)
        return {"status": "succeeded (should have failed)"}
    except Exception as exc:
        return {"type": type(exc).__name__, "message": str(exc),
                "operation": getattr(exc, "operation", None), "left": tagged(aws, name)}


if __name__ == "__main__":
    main(Path(sys.argv[1]))
