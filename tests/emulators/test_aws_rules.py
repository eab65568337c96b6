"""The AWS emulation refuses what the real APIs refuse (moto_fixtures/aws/inmoto, exec_role,
taskdef): each test drives official boto3 against a private moto server with the rules installed
and checks the AWS error code, or the rule's pure function. No Docker engine needed."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from moto_fixtures.aws.exec_role import allowed, check_execution_role
from moto_fixtures.aws.inmoto import ecs as ecs_rules
from moto_fixtures.aws.inmoto.autoscaling import resource_label_error
from moto_fixtures.aws.inmoto.logs import RETENTION_DAYS, retention_error
from moto_fixtures.aws.samples import default_network, execution_role
from moto_fixtures.aws.server import MotoAws
from moto_fixtures.aws.taskdef import TaskStartError, platform_error

pytestmark = [pytest.mark.timeout(180)]
DIMENSION = "ecs:service:DesiredCount"


@pytest.fixture(scope="module")
def moto():
    server = MotoAws().start()
    try:
        yield server
    finally:
        server.stop()


def _code(caught) -> str:
    return caught.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def net(moto):
    return default_network(moto.client("ec2"))


def _service_stack(moto, net, delay: int):
    """A cluster, a target group with ``delay`` s deregistration delay behind a listener, a task
    definition: what one ECS service behind an ALB needs."""
    vpc, subnets, group = net
    ecs, elbv2, suffix = moto.client("ecs"), moto.client("elbv2"), uuid.uuid4().hex[:6]
    cluster = ecs.create_cluster(clusterName=f"rules-{suffix}")["cluster"]["clusterName"]
    lb = elbv2.create_load_balancer(Name=f"rules-{suffix}", Subnets=subnets[:2],
                                    SecurityGroups=[group])["LoadBalancers"][0]
    tg = elbv2.create_target_group(Name=f"rules-{suffix}", Protocol="HTTP", Port=8080, VpcId=vpc,
                                   TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}])
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    td = ecs.register_task_definition(
        family=f"rules-{suffix}", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256",
        memory="512", containerDefinitions=[{"name": "app", "image": "x", "memory": 512}])
    request = dict(cluster=cluster, serviceName=f"svc-{suffix}", desiredCount=0, launchType="FARGATE",
                   taskDefinition=td["taskDefinition"]["taskDefinitionArn"],
                   networkConfiguration={"awsvpcConfiguration": {"subnets": subnets[:2], "securityGroups": [group]}},
                   loadBalancers=[{"targetGroupArn": tg, "containerName": "app", "containerPort": 8080}])
    return request, lb, tg


# ---- ECS ------------------------------------------------------------------------------------------

def test_deleted_service_drains_for_the_deregistration_delay(moto, net):
    ecs = moto.client("ecs")
    request, _lb, _tg = _service_stack(moto, net, delay=2)
    cluster, name = request["cluster"], request["serviceName"]
    ecs.create_service(**request)
    ecs.delete_service(cluster=cluster, service=name, force=True)
    started = time.monotonic()
    assert ecs.describe_services(cluster=cluster, services=[name])["services"][0]["status"] == "DRAINING"
    assert ecs.list_services(cluster=cluster)["serviceArns"] == []  # DRAINING is not listed
    with pytest.raises(ClientError) as caught:
        ecs.create_service(**request)
    assert _code(caught) == "InvalidParameterException" and "not idempotent" in str(caught.value)
    with pytest.raises(ClientError) as caught:
        ecs.delete_cluster(cluster=cluster)
    assert _code(caught) == "ClusterContainsServicesException"
    with pytest.raises(ClientError) as caught:
        ecs.delete_service(cluster=cluster, service=name, force=True)
    assert _code(caught) == "ServiceNotActiveException"
    while ecs.describe_services(cluster=cluster, services=[name])["services"][0]["status"] == "DRAINING":
        time.sleep(0.2)
    assert time.monotonic() - started >= 2  # the target group's delay (+ the task's stop) passed
    ecs.create_service(**request)  # the name is free again
    ecs.delete_service(cluster=cluster, service=name, force=True)


def test_create_service_on_an_active_name_is_refused_unless_it_repeats_the_client_token(moto, net):
    ecs = moto.client("ecs")
    request, _lb, _tg = _service_stack(moto, net, delay=0)
    first = ecs.create_service(clientToken="token-1", **request)["service"]["serviceArn"]
    assert ecs.create_service(clientToken="token-1", **request)["service"]["serviceArn"] == first
    for token in ({"clientToken": "token-2"}, {}):
        with pytest.raises(ClientError) as caught:
            ecs.create_service(**token, **request)
        assert _code(caught) == "InvalidParameterException"


def test_list_services_pages_by_ten(moto, net):
    ecs = moto.client("ecs")
    request, _lb, _tg = _service_stack(moto, net, delay=0)
    names = [f"{request['serviceName']}-{i:02d}" for i in range(12)]
    for name in names:
        ecs.create_service(**{**request, "serviceName": name, "loadBalancers": []})
    first = ecs.list_services(cluster=request["cluster"])
    assert len(first["serviceArns"]) == 10 and first["nextToken"]
    every = [a for page in ecs.get_paginator("list_services").paginate(cluster=request["cluster"])
             for a in page["serviceArns"]]
    assert sorted(a.rsplit("/", 1)[-1] for a in every) == names
    with pytest.raises(ClientError):
        ecs.list_services(cluster=request["cluster"], maxResults=101)


def test_describe_services_keeps_the_tags_it_was_asked_for_under_concurrent_calls(moto, net):
    """``include=["TAGS"]`` is one request's option: a concurrent DescribeServices without it (the
    ECS bridge polls that way) must not strip the tags from this one's reply
    (API_DescribeServices.html, ``include``). moto kept the option on its class, shared by every
    request: a provider's observe() then saw no tagged service and reported none. Ten services make
    each reply long enough to be overlapped (unpatched, about 6 in 100 replies lost their tags)."""
    import threading

    ecs = moto.client("ecs")
    request, _lb, _tg = _service_stack(moto, net, delay=0)
    names = [f"{request['serviceName']}-{i}" for i in range(10)]
    owner = [{"key": "owner", "value": "rules"}]
    for name in names:
        ecs.create_service(**{**request, "serviceName": name, "loadBalancers": [], "tags": owner})
    stop, untagged = threading.Event(), []

    def without_tags():
        while not stop.is_set():
            ecs.describe_services(cluster=request["cluster"], services=names)

    pollers = [threading.Thread(target=without_tags) for _ in range(2)]
    for thread in pollers:
        thread.start()
    try:
        for _ in range(200):
            reply = ecs.describe_services(cluster=request["cluster"], services=names, include=["TAGS"])
            untagged += [s["serviceName"] for s in reply["services"] if s.get("tags") != owner]
    finally:
        stop.set()
        for thread in pollers:
            thread.join()
    assert not untagged, f"{len(untagged)} services of 200 replies lost the tags they asked for"
    assert "tags" not in ecs.describe_services(cluster=request["cluster"], services=names[:1])["services"][0]


def test_drain_rules_as_functions():
    assert ecs_rules.drain_seconds([300, 5]) == 300 + ecs_rules.TASK_STOP_SECONDS
    assert ecs_rules.create_decision("INACTIVE", None, None) == "create"
    assert ecs_rules.create_decision("ACTIVE", "t", "t") == "replay"
    assert ecs_rules.create_decision("DRAINING", "t", "t") == ecs_rules.NOT_IDEMPOTENT
    page, token = ecs_rules.page(["a", "b", "c"], 2, None)
    assert (page, ecs_rules.page(["a", "b", "c"], 2, token)) == (["a", "b"], (["c"], None))


# ---- Secrets Manager, CloudWatch Logs --------------------------------------------------------------

def test_force_deleted_secret_name_is_free_only_after_the_purge(moto):
    sm, name = moto.client("secretsmanager"), f"rules/{uuid.uuid4().hex[:6]}"
    arn = sm.create_secret(Name=name, SecretString="one")["ARN"]
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)  # a retry succeeds, as documented
    with pytest.raises(ClientError) as caught:
        sm.create_secret(Name=name, SecretString="two")
    assert _code(caught) == "InvalidRequestException" and "scheduled for deletion" in str(caught.value)
    assert sm.describe_secret(SecretId=name)["DeletedDate"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            sm.describe_secret(SecretId=name)
            time.sleep(0.2)
        except sm.exceptions.ResourceNotFoundException:
            break
    assert sm.create_secret(Name=name, SecretString="two")["Name"] == name


def test_log_retention_takes_only_the_listed_days(moto):
    logs, group = moto.client("logs"), f"/rules/{uuid.uuid4().hex[:6]}"
    logs.create_log_group(logGroupName=group)
    for days in (2, 700, 0):
        with pytest.raises(ClientError) as caught:
            logs.put_retention_policy(logGroupName=group, retentionInDays=days)
        assert _code(caught) == "InvalidParameterException" and "retentionInDays" in str(caught.value)
    logs.put_retention_policy(logGroupName=group, retentionInDays=731)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 731
    assert retention_error(3653) is None and retention_error(4000) and len(RETENTION_DAYS) == 22


# ---- ELBv2 ------------------------------------------------------------------------------------------

def test_elb_creates_are_idempotent_for_the_same_settings_only(moto, net):
    vpc, subnets, group = net
    elbv2, suffix = moto.client("elbv2"), uuid.uuid4().hex[:6]
    lb_args = dict(Name=f"idem-{suffix}", Subnets=subnets[:2], SecurityGroups=[group])
    lb = elbv2.create_load_balancer(**lb_args)["LoadBalancers"][0]["LoadBalancerArn"]
    assert elbv2.create_load_balancer(**lb_args)["LoadBalancers"][0]["LoadBalancerArn"] == lb
    assert len(elbv2.describe_load_balancers(Names=[lb_args["Name"]])["LoadBalancers"]) == 1
    tg_args = dict(Name=f"idem-{suffix}", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")
    tg = elbv2.create_target_group(**tg_args)["TargetGroups"][0]["TargetGroupArn"]
    assert elbv2.create_target_group(**tg_args)["TargetGroups"][0]["TargetGroupArn"] == tg
    listener_args = dict(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                         DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    listener = elbv2.create_listener(**listener_args)["Listeners"][0]["ListenerArn"]
    assert elbv2.create_listener(**listener_args)["Listeners"][0]["ListenerArn"] == listener
    other = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}
    for call, args, code in (
            (elbv2.create_load_balancer, {**lb_args, "Subnets": subnets[:3]}, "DuplicateLoadBalancerName"),
            (elbv2.create_target_group, {**tg_args, "Port": 9090}, "DuplicateTargetGroupName"),
            (elbv2.create_listener, {**listener_args, "DefaultActions": [other]}, "DuplicateListener")):
        with pytest.raises(ClientError) as caught:
            call(**args)
        assert _code(caught) == code
    assert len(elbv2.describe_listeners(LoadBalancerArn=lb)["Listeners"]) == 1


# ---- Application Auto Scaling -----------------------------------------------------------------------

def test_request_count_policy_needs_a_target_group_of_the_service(moto, net):
    ecs, aas = moto.client("ecs"), moto.client("application-autoscaling")
    request, lb, tg = _service_stack(moto, net, delay=0)
    ecs.create_service(**request)
    resource = f"service/{request['cluster']}/{request['serviceName']}"
    label = lb["LoadBalancerArn"].split(":loadbalancer/")[1] + "/" + tg.split(":", 5)[5]

    def policy(label_value, value=100.0):
        metric = {"PredefinedMetricType": "ALBRequestCountPerTarget",
                  **({"ResourceLabel": label_value} if label_value else {})}
        return aas.put_scaling_policy(
            PolicyName="p", ServiceNamespace="ecs", ResourceId=resource, ScalableDimension=DIMENSION,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={"TargetValue": value, "PredefinedMetricSpecification": metric})

    with pytest.raises(ClientError) as caught:
        policy(label)
    assert _code(caught) == "ObjectNotFoundException"  # no scalable target yet
    aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=resource, ScalableDimension=DIMENSION,
                                 MinCapacity=1, MaxCapacity=3)
    for bad in (None, "app/x", label.replace("/targetgroup/", "/targetgroup/other-"), ):
        with pytest.raises(ClientError) as caught:
            policy(bad)
        assert _code(caught) == "ValidationException"
    with pytest.raises(ClientError):
        policy(label, value=0)
    policy(label)
    assert len(aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)["ScalingPolicies"]) == 1
    aas.deregister_scalable_target(ServiceNamespace="ecs", ResourceId=resource, ScalableDimension=DIMENSION)
    assert aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)["ScalingPolicies"] == []
    with pytest.raises(ClientError) as caught:
        aas.deregister_scalable_target(ServiceNamespace="ecs", ResourceId=resource, ScalableDimension=DIMENSION)
    assert _code(caught) == "ObjectNotFoundException"


def test_resource_label_rules_as_a_function():
    lb = "arn:aws:elasticloadbalancing:r:1:loadbalancer/app/a/1"
    tg = "arn:aws:elasticloadbalancing:r:1:targetgroup/t/2"
    assert resource_label_error("app/a/1/targetgroup/t/2", [lb], {tg: [lb]}, [tg]) is None
    assert "not attached to load balancer" in resource_label_error("app/a/1/targetgroup/t/2", [lb], {tg: []}, [tg])
    assert "ECS service" in resource_label_error("app/a/1/targetgroup/t/2", [lb], {tg: [lb]}, [])


# ---- the task execution role and the image's platform (what the ECS agent checks) -------------------

def test_execution_role_is_checked_against_the_secrets_full_arn(moto):
    iam, sm, suffix = moto.client("iam"), moto.client("secretsmanager"), uuid.uuid4().hex[:6]
    full = sm.create_secret(Name=f"partial-{suffix}", SecretString="x")["ARN"]
    partial = full[:-7]  # without "-" and the random six characters
    role = execution_role(iam, f"partial-{suffix}", secrets=None)

    def task(value_from: str) -> dict:
        return {"executionRoleArn": role, "containerDefinitions": [
            {"name": "app", "essential": True, "secrets": [{"name": "S", "valueFrom": value_from}]}]}

    for granted, ok in ((partial, False), (partial + "-??????", True), (full, True)):
        iam.put_role_policy(RoleName=f"partial-{suffix}", PolicyName="s", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                                    "Resource": granted}]}))
        if ok:
            check_execution_role(task(partial), iam, sm)
        else:
            with pytest.raises(TaskStartError, match="not authorized to perform: secretsmanager:GetSecretValue"):
                check_execution_role(task(partial), iam, sm)


def test_iam_wildcards_are_single_and_any_characters():
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:x:secret:db-??????"}]})
    assert allowed([doc], "secretsmanager:GetSecretValue", "arn:x:secret:db-AbCdEf")
    assert not allowed([doc], "secretsmanager:GetSecretValue", "arn:x:secret:db-AbCdEfG")
    assert not allowed([doc], "secretsmanager:GetSecretValue", "arn:x:secret:dbxAbCdEf0")


def test_image_architecture_must_match_the_runtime_platform():
    arm = {"runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}}
    assert platform_error(arm, "img", "linux", "arm64") is None
    assert platform_error({}, "img", "linux", "amd64") is None  # X86_64 is the default
    assert "exec format error" in platform_error(arm, "img", "linux", "amd64")
    assert "linux/amd64" in platform_error({}, "img", "linux", "arm64")
