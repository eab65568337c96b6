"""Pure parts of the aws provider: translation to request bodies, names, sizes, IAM policy."""

from __future__ import annotations

import pytest

from modelport.errors import SpecError
from modelport.provider import ImageRef, RevisionSpec, Size, Target
from modelport_providers.aws import iam, sizes
from modelport_providers.aws import translate as tr
from modelport_providers.aws.provider import AwsProvider
from modelport_providers.aws.settings import AwsSettings

DIGEST = "sha256:" + "ab" * 32
REF = f"127.0.0.1:5000/modelport/iris@{DIGEST}"


def rev(**changes) -> RevisionSpec:
    base = dict(deployment="iris", revision="r3", image=ImageRef(DIGEST, "sha256:" + "cd" * 32, REF),
                size=Size(0.5, 1024), port=8080, env={"LOG_LEVEL": "info"},
                secrets={"DB": "aws-sm:arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"},
                min_instances=1, max_instances=3, concurrency=80, model_name="iris", model_version="1.0.0",
                config="c0ffee")
    return RevisionSpec(**{**base, **changes})


TAGS = {"modelport:deployment": "iris", "modelport:revision": "r3", "modelport:digest": DIGEST,
        "modelport:config": "c0ffee"}


def test_task_definition():
    names = tr.Names(AwsSettings(), "iris")
    arns = tr.secret_refs(rev())
    body = tr.task_definition(rev(), names, "arn:aws:iam::123456789012:role/mp-iris-exec", "eu-west-1", arns)
    assert body == {
        "family": "mp-iris-r3", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
        "cpu": "512", "memory": "1024", "executionRoleArn": "arn:aws:iam::123456789012:role/mp-iris-exec",
        "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
        "containerDefinitions": [{
            "name": "model", "image": REF, "essential": True, "command": ["serve"], "memory": 1024,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "PORT", "value": "8080"}],
            "secrets": [{"name": "DB", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}],
            "healthCheck": {"command": tr.health_command(8080), "interval": 10, "timeout": 5, "retries": 3,
                            "startPeriod": 30},
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/modelport/iris", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "r3"}},
            "stopTimeout": 30}],
        "tags": [{"key": k, "value": v} for k, v in TAGS.items()]}
    assert "http://localhost:8080/v2/health/ready" in tr.health_command(8080)[1]


def test_private_registry_credentials_only_with_the_override():
    settings = AwsSettings(registry="reg.example/ml", registry_credentials_arn="arn:aws:secretsmanager:x")
    body = tr.task_definition(rev(), tr.Names(settings, "iris"), "role", "us-east-1", {})
    assert body["containerDefinitions"][0]["repositoryCredentials"] == {"credentialsParameter": "arn:aws:secretsmanager:x"}
    plain = tr.task_definition(rev(), tr.Names(AwsSettings(registry_credentials_arn="x"), "iris"), "role", "r", {})
    assert "repositoryCredentials" not in plain["containerDefinitions"][0]


def test_target_group_service_and_scaling():
    names = tr.Names(AwsSettings(assign_public_ip=False), "iris")
    assert tr.target_group(rev(), names, "vpc-1") == {
        "Name": "mp-iris-r3", "Protocol": "HTTP", "Port": 8080, "VpcId": "vpc-1", "TargetType": "ip",
        "HealthCheckProtocol": "HTTP", "HealthCheckPath": "/v2/health/ready", "HealthCheckIntervalSeconds": 10,
        "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 3, "Matcher": {"HttpCode": "200"},
        "Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()]}
    body = tr.service(rev(min_instances=2), names, "tg-arn", ["s1", "s2"], ["sg-1"])
    assert body["cluster"] == "mp-iris" and body["serviceName"] == "mp-iris-r3" and body["desiredCount"] == 2
    assert body["networkConfiguration"] == {"awsvpcConfiguration": {
        "subnets": ["s1", "s2"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}}
    assert body["loadBalancers"] == [{"targetGroupArn": "tg-arn", "containerName": "model", "containerPort": 8080}]
    assert tr.scalable_target(rev(min_instances=2, max_instances=5), names) == {
        "ServiceNamespace": "ecs", "ResourceId": "service/mp-iris/mp-iris-r3",
        "ScalableDimension": "ecs:service:DesiredCount", "MinCapacity": 2, "MaxCapacity": 5}


def test_existing_cluster_is_used_not_owned():
    names = tr.Names(AwsSettings(cluster="shared"), "iris")
    assert (names.cluster, names.owns_cluster) == ("shared", False)
    assert tr.service(rev(), names, "tg", ["s"], ["g"])["cluster"] == "shared"


def test_forward_weights_and_revision_rule():
    groups = {"r2": "arn:tg/r2", "r3": "arn:tg/r3"}
    assert tr.forward({"r2": 90, "r3": 10}, groups) == [{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": "arn:tg/r2", "Weight": 90}, {"TargetGroupArn": "arn:tg/r3", "Weight": 10}],
        "TargetGroupStickinessConfig": {"Enabled": False}}}]
    assert tr.forward({"r2": 0, "r3": 100}, groups)[0]["ForwardConfig"]["TargetGroups"] == [
        {"TargetGroupArn": "arn:tg/r3", "Weight": 100}]
    assert tr.revision_rule("r3", "arn:tg/r3", "arn:listener", {"a": "b"}) == {
        "ListenerArn": "arn:listener", "Priority": 3,
        "Conditions": [{"Field": "http-header", "HttpHeaderConfig": {
            "HttpHeaderName": "X-Modelport-Revision", "Values": ["r3"]}}],
        "Actions": [{"Type": "forward", "TargetGroupArn": "arn:tg/r3"}], "Tags": [{"Key": "a", "Value": "b"}]}


def test_names_fit_aws_limits_and_stay_distinct():
    long_a, long_b = "a" * 38 + "xy", "a" * 38 + "zz"
    for name in (long_a, long_b):
        names = tr.Names(AwsSettings(), name)
        assert len(names.load_balancer) <= 32 and len(names.target_group("r123")) <= 32
        assert len(names.role) <= 64 and names.target_group("r123").endswith("-r123")
    assert tr.Names(AwsSettings(), long_a).load_balancer != tr.Names(AwsSettings(), long_b).load_balancer
    assert tr.Names(AwsSettings(), "iris").load_balancer == "mp-iris"
    assert tr.Names(AwsSettings(smoke_port_base=7000), "iris").smoke_port("r12") == 7012


def test_tags_round_trip():
    assert tr.from_tag_list(tr.tag_list(TAGS)) == TAGS
    assert tr.from_tag_list(tr.tag_list(TAGS, "key", "value")) == TAGS


# -- sizes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("cpu,memory", [(0.25, 512), (0.25, 2048), (0.5, 4096), (1, 8192), (4, 30720), (16, 122880)])
def test_valid_fargate_sizes_pass(cpu, memory):
    sizes.check_size(Size(cpu, memory))
    assert sizes.fit_size(Size(cpu, memory)) == (Size(cpu, memory), [])


def test_invalid_cpu_names_the_field_and_the_choices():
    with pytest.raises(SpecError) as err:
        sizes.check_size(Size(0.75, 2048))
    assert err.value.field == "resources.cpu"
    assert "0.25, 0.5, 1, 2, 4, 8, 16" in err.value.reason
    assert 'cpu = 1, memory = "2048Mi"' in err.value.hint


def test_invalid_memory_names_the_field_and_the_choices():
    with pytest.raises(SpecError) as err:
        sizes.check_size(Size(0.25, 4096))
    assert err.value.field == "resources.memory"
    assert "512, 1024, 2048 MiB" in err.value.reason
    with pytest.raises(SpecError) as err:
        sizes.check_size(Size(1, 1024))
    assert "2048..8192 MiB in steps of 1024" in err.value.reason


def test_gpu_is_refused_with_the_reason():
    with pytest.raises(SpecError) as err:
        sizes.check_size(Size(1, 2048, gpu=1, gpu_type="nvidia-l4"))
    assert err.value.field == "resources.gpu" and "Fargate has no GPUs" in err.value.reason
    with pytest.raises(SpecError):
        sizes.fit_size(Size(1, 2048, gpu=1))


def test_fit_size_maps_to_the_nearest_valid_pair_with_notes():
    assert sizes.fit_size(Size(1, 512)) == (Size(1, 2048), [
        "aws (Fargate): memory 512 -> 2048 MiB (valid with 1 vCPU)"])
    fitted, notes = sizes.fit_size(Size(0.6, 1500))
    assert fitted == Size(1, 2048) and len(notes) == 2 and "cpu 0.6 -> 1 vCPU" in notes[0]
    assert sizes.fit_size(Size(0.25, 3000))[0] == Size(0.5, 3072)  # 0.25 vCPU tops out at 2 GiB
    with pytest.raises(SpecError) as err:
        sizes.fit_size(Size(32, 1024))
    assert err.value.field == "resources.cpu"


def test_the_table_is_versioned_data():
    data = sizes.table()
    assert data["verified_on"] and data["source"].startswith("https://docs.aws.amazon.com/")
    assert data["meta"]["table_version"]


def test_provider_size_methods_use_the_table():
    provider, target = AwsProvider(), Target("aws", "aws", AwsSettings())
    with pytest.raises(SpecError):
        provider.check_size(Size(3, 4096), target)
    assert provider.fit_size(Size(3, 4096), target)[0] == Size(4, 8192)


# -- settings and IAM policy ---------------------------------------------------------------------

def test_settings_refuse_unknown_keys_and_schemes():
    with pytest.raises(ValueError):
        AwsSettings(regoin="us-east-1")
    with pytest.raises(ValueError):
        AwsSettings(registry="http://127.0.0.1:5000/x")
    assert AwsSettings(registry="127.0.0.1:5000/x/").registry == "127.0.0.1:5000/x"


def test_policy_follows_the_settings():
    full = iam.actions(AwsSettings())
    assert {"ecs:CreateCluster", "iam:CreateRole", "ec2:CreateSecurityGroup", "ecr:CreateRepository",
            "ecr:PutImage", "iam:PassRole", "elasticloadbalancing:ModifyListener"} <= full
    given = iam.actions(AwsSettings(cluster="c", execution_role_arn="arn:r", security_groups=["sg-1"],
                                    registry="reg.example/x"))
    assert not {a for a in given if a.startswith("ecr:")}
    assert not {"ecs:CreateCluster", "iam:CreateRole", "ec2:CreateSecurityGroup", "iam:GetRole"} & given
    assert "iam:PassRole" in given and given < full


def test_policy_document_shape():
    doc = AwsProvider().iam_policy(Target("aws", "aws", AwsSettings()))
    assert doc["Version"] == "2012-10-17"
    listed = {a for s in doc["Statement"] for a in s["Action"]}
    assert listed == iam.actions(AwsSettings())
    assert all(s["Effect"] == "Allow" and s["Resource"] == "*" for s in doc["Statement"])
    assert not any("*" in a for a in listed)  # no wildcard actions
