"""Helpers for the aws provider tests: specs on disk, sessions, predictions, listener weights.

Everything goes through the public API (``modelport.api``) and official boto3 against the
emulation (``moto_fixtures.aws``); nothing here knows the provider's internals.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path

from modelport.engine.session import Session
from modelport.plugins import load_providers
from modelport.state import StateStore
from tests import iris
from tests.iris import EXAMPLES, SAMPLE  # noqa: F401  (re-exported)

REPO = Path(__file__).resolve().parents[3]
VERSIONS = {"v1": ("iris", "1.0.0"), "v2": ("iris-v2", "2.0.0")}


def unique(prefix: str) -> str:
    """A deployment name no other test (or earlier run) uses: load balancer names must differ."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def write_spec(folder: Path, name: str, version: str, aws_settings: dict, *, env: dict | None = None,
               secrets: dict | None = None, expected_shape: list[int] | None = None,
               cpu: float = 0.5, memory: str = "1Gi", local_targets: tuple[str, ...] = ("dev",)) -> Path:
    """A modelport.toml for iris ``version`` ("v1"/"v2") with an ``aws`` target and local ones."""
    source, model_version = VERSIONS[version]
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLES / source / "model.joblib", folder / "model.joblib")
    (folder / "sample.json").write_text(json.dumps(SAMPLE))
    lines = [f'name = "{name}"', "", "[model]", 'name = "iris"', f'version = "{model_version}"',
             'path = "model.joblib"', 'framework = "sklearn"', "", "[serving]", "port = 8080",
             'sample_input = "sample.json"', f"expected_output_shape = {json.dumps(expected_shape or [2])}", "",
             "[build]", 'base_image = "modelport-base:bookworm"', "", "[resources]", f"cpu = {cpu}",
             f'memory = "{memory}"', "", "[scaling]", "min_instances = 1", "max_instances = 3", "",
             "[rollout]", "gate_timeout = 150", "keep_revisions = 1", ""]
    if env:
        lines += ["[env]", *(f'{k} = "{v}"' for k, v in env.items()), ""]
    if secrets:
        lines += ["[secrets]", *(f'{k} = "{v}"' for k, v in secrets.items()), ""]
    lines += ["[targets.aws]", 'provider = "aws"', *(f"{k} = {json.dumps(v)}" for k, v in aws_settings.items()), ""]
    for target in local_targets:
        lines += [f"[targets.{target}]", 'provider = "local"', ""]
    (folder / "modelport.toml").write_text("\n".join(lines))
    return folder


def session(state: Path, log: list[str] | None = None) -> Session:
    """A Session with its own state file and freshly loaded providers (no client cached elsewhere)."""
    return Session(state=StateStore(state), providers=load_providers(),
                   report=(log.append if log is not None else (lambda _m: None)))


def version_of(reply: dict) -> str:
    """Which iris version ("v1"/"v2") produced an OIP v2 reply."""
    return f"v{iris.version_of(reply)}"


def predict(endpoint: str, headers: dict | None = None) -> str:
    """POST the sample to ``endpoint`` and say which version ("v1"/"v2") answered."""
    return f"v{iris.served_version(endpoint, headers)}"


def listener_weights(aws, load_balancer: str, port: int = 80) -> dict[str, int]:
    """The main listener's forward weights as target group NAME -> weight, read with boto3."""
    elbv2 = aws.client("elbv2")
    lb = elbv2.describe_load_balancers(Names=[load_balancer])["LoadBalancers"][0]
    listener = next(item for item in elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
                    if item["Port"] == port)
    action = listener["DefaultActions"][-1]
    if action["Type"] != "forward":
        return {}
    groups = action["ForwardConfig"]["TargetGroups"]
    names = {tg["TargetGroupArn"]: tg["TargetGroupName"] for tg in elbv2.describe_target_groups(
        TargetGroupArns=[g["TargetGroupArn"] for g in groups])["TargetGroups"]}
    return {names[g["TargetGroupArn"]]: g["Weight"] for g in groups if g["Weight"]}


def tagged(aws, deployment: str) -> list[tuple[str, str]]:
    """(kind, id) of every live resource tagged ``modelport:deployment = deployment``, found with
    boto3 directly (not through the provider)."""
    found = []
    elbv2, ecs = aws.client("elbv2"), aws.client("ecs")
    arns = [lb["LoadBalancerArn"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]]
    arns += [tg["TargetGroupArn"] for tg in elbv2.describe_target_groups()["TargetGroups"]]
    for start in range(0, len(arns), 20):
        for d in elbv2.describe_tags(ResourceArns=arns[start:start + 20])["TagDescriptions"]:
            if {"Key": "modelport:deployment", "Value": deployment} in d.get("Tags", []):
                found.append(("elbv2", d["ResourceArn"]))
    for cluster in ecs.list_clusters()["clusterArns"]:
        c = ecs.describe_clusters(clusters=[cluster], include=["TAGS"])["clusters"][0]
        if c["status"] == "ACTIVE" and {"key": "modelport:deployment", "value": deployment} in c.get("tags", []):
            found.append(("ecs cluster", cluster))
        services = [arn for page in ecs.get_paginator("list_services").paginate(cluster=cluster)
                    for arn in page["serviceArns"]]  # ECS answers 10 a page
        for start in range(0, len(services), 10):
            for s in ecs.describe_services(cluster=cluster, services=services[start:start + 10],
                                           include=["TAGS"])["services"]:
                if s["status"] == "ACTIVE" and {"key": "modelport:deployment", "value": deployment} in s.get("tags", []):
                    found.append(("ecs service", s["serviceArn"]))
    for arn in [a for page in ecs.get_paginator("list_task_definitions").paginate(status="ACTIVE")
                for a in page["taskDefinitionArns"]]:
        if {"key": "modelport:deployment", "value": deployment} in ecs.list_tags_for_resource(resourceArn=arn)["tags"]:
            found.append(("task definition", arn))
    secrets = aws.client("secretsmanager").list_secrets(
        Filters=[{"Key": "tag-value", "Values": [deployment]}])["SecretList"]
    found += [("secret", x["ARN"]) for x in secrets
              if {"Key": "modelport:deployment", "Value": deployment} in x.get("Tags", [])]
    groups = aws.client("ec2").describe_security_groups(
        Filters=[{"Name": "tag:modelport:deployment", "Values": [deployment]}])["SecurityGroups"]
    found += [("security group", g["GroupId"]) for g in groups]
    logs = aws.client("logs").describe_log_groups(logGroupNamePrefix=f"/modelport/{deployment}")["logGroups"]
    found += [("log group", g["logGroupName"]) for g in logs]
    return found


def tagged_revision(aws, deployment: str, revision: str) -> list[tuple[str, str]]:
    """The tagged resources of one revision (service, task definition, target group, ...)."""
    pattern = re.compile(rf"(mp-{re.escape(deployment)}-{revision}|/{revision}/)(?![0-9])")
    return [(kind, ident) for kind, ident in tagged(aws, deployment) if pattern.search(ident)]
