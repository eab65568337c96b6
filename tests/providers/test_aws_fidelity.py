"""What the aws provider sends so that real AWS accepts it (issue 13), as pure functions and at
``validate``: ARM64 from build.platform, the target tracking policy (and what min_instances = 0
becomes), the deliberate deregistration delay, log retention values, secrets by full ARN."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from modelport.cli import main
from modelport.engine.revision import with_config
from modelport.provider import ImageRef, RevisionSpec, Size, Target
from modelport_providers.aws import iam
from modelport_providers.aws import translate as tr
from modelport_providers.aws.provider import AwsProvider
from modelport_providers.aws.secrets import arn_base, with_base
from modelport_providers.aws.settings import RETENTION_DAYS, AwsSettings
from tests.providers.aws.helpers import write_spec

DIGEST = "sha256:" + "ab" * 32
LB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/mp-iris/50dc6c495c0c9188"
TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/mp-iris-r3/73e2d6bc24d8a067"


def rev(**changes) -> RevisionSpec:
    base = dict(deployment="iris", revision="r3", image=ImageRef(DIGEST, "sha256:" + "cd" * 32, f"r/iris@{DIGEST}"),
                size=Size(0.5, 1024), port=8080, env={}, secrets={}, min_instances=1, max_instances=3,
                concurrency=80, model_name="iris", model_version="1.0.0", config="c0ffee")
    return RevisionSpec(**{**base, **changes})


def names(**settings) -> tr.Names:
    return tr.Names(AwsSettings(**settings), "iris")


def test_arm64_build_runs_on_arm64_fargate():
    body = tr.task_definition(rev(platform="linux/arm64"), names(), "role", "us-east-1", {})
    assert body["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"}
    assert tr.task_definition(rev(), names(), "role", "us-east-1", {})["runtimePlatform"]["cpuArchitecture"] == "X86_64"
    assert "ARM64" in tr.summary(rev(platform="linux/arm64"), names())["platform"]
    # the platform is part of the revision's configuration (amd64 hashes stay what they were)
    assert with_config(rev(platform="linux/arm64")).config != with_config(rev()).config


def test_request_count_policy_from_concurrency():
    policy = tr.scaling_policy(rev(concurrency=20), names(), LB, TG)
    assert policy == {
        "PolicyName": "modelport-target-tracking", "ServiceNamespace": "ecs",
        "ResourceId": "service/mp-iris/mp-iris-r3", "ScalableDimension": "ecs:service:DesiredCount",
        "PolicyType": "TargetTrackingScaling", "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 1200.0, "ScaleOutCooldown": 60, "ScaleInCooldown": 300,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ALBRequestCountPerTarget",
                "ResourceLabel": "app/mp-iris/50dc6c495c0c9188/targetgroup/mp-iris-r3/73e2d6bc24d8a067"}}}


def test_cpu_policy_and_no_policy_without_room_to_scale():
    cpu = tr.scaling_policy(rev(), names(scale_on="cpu"), LB, TG)["TargetTrackingScalingPolicyConfiguration"]
    assert cpu["PredefinedMetricSpecification"] == {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}
    assert cpu["TargetValue"] == 70.0
    assert tr.scaling_policy(rev(min_instances=2, max_instances=2), names(), LB, TG) is None
    assert tr.scaling_policy(rev(min_instances=0, max_instances=1), names(), LB, TG) is None  # 1..1


def test_min_instances_zero_runs_one_task_and_plan_says_so():
    zero = rev(min_instances=0, max_instances=3)
    assert tr.tasks(zero) == (1, 3)
    assert tr.service(zero, names(), TG, ["s"], ["g"])["desiredCount"] == 1
    assert tr.scalable_target(zero, names())["MinCapacity"] == 1
    shown = AwsProvider().translate(zero, Target("aws", "aws", AwsSettings()))
    assert "min_instances = 0 runs 1 task" in shown["scaling"] and "cannot scale up from zero" in shown["scaling"]
    assert "min_instances = 0" not in tr.summary(rev(), names())["scaling"]
    assert tr.summary(rev(), names())["scaling"].startswith("1..3 tasks, target tracking on 4800 ALB requests")


def test_deregistration_delay_is_set_deliberately():
    assert tr.target_group_attributes(AwsSettings()) == [
        {"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]
    assert tr.target_group_attributes(AwsSettings(deregistration_delay=5))[0]["Value"] == "5"
    with pytest.raises(ValueError):
        AwsSettings(deregistration_delay=3601)


def test_invalid_log_retention_is_refused_at_validate_naming_the_field(tmp_path):
    spec = write_spec(tmp_path / "spec", "iris-ret", "v1", {"region": "eu-west-1", "log_retention_days": 2})
    result = CliRunner().invoke(main, ["validate", str(spec), "--output", "json"])
    assert result.exit_code == 2, result.output
    errors = json.loads(result.stdout).get("errors")
    assert [e["field"] for e in errors] == ["targets.aws.log_retention_days"]
    assert "not 2; the nearest is 1" in errors[0]["reason"]
    for days in RETENTION_DAYS:
        AwsSettings(log_retention_days=days)


def test_secret_references_keep_their_json_key_when_resolved():
    partial = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"
    assert arn_base(partial + ":password::") == partial
    assert with_base(partial + ":password::", partial + "-AbCdEf") == partial + "-AbCdEf:password::"
    assert with_base(partial, partial + "-AbCdEf") == partial + "-AbCdEf"


def test_policy_grants_what_the_new_calls_need():
    actions = iam.actions(AwsSettings())
    assert {"application-autoscaling:PutScalingPolicy", "secretsmanager:DescribeSecret",
            "elasticloadbalancing:ModifyTargetGroupAttributes", "cloudwatch:PutMetricAlarm"} <= actions
