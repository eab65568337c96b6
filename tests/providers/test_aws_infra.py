"""Shared resources of the aws provider against moto (no image needed): what it plans, creates,
tags and deletes; the ECR repository and its credentials; an existing cluster/role/security group."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from modelport.provider import ImageRef, RevisionSpec, Size, Target
from moto_fixtures.aws.samples import default_network
from modelport_providers.aws.provider import AwsProvider
from modelport_providers.aws.settings import AwsSettings
from tests.providers.aws.helpers import tagged, unique

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


def _target(aws, **settings) -> Target:
    return Target("aws", "aws", AwsSettings(endpoint_url=aws.endpoint_url, region=aws.region, **settings))


def _mine(provider, target, name):
    return sorted(r.kind for r in provider.list_resources(target) if r.deployment == name)


def test_infrastructure_plan_create_tag_and_destroy_with_ecr(aws_emulation):
    aws, provider, name = aws_emulation, AwsProvider(), unique("infra")
    target = _target(aws)
    observed = provider.observe(target, name)
    assert not observed.exists
    assert [(c.action, c.kind, c.name) for c in provider.infrastructure_plan(target, name, observed)] == [
        ("create", "ecr repository", f"modelport/{name}"), ("create", "ecs cluster", f"mp-{name}"),
        ("create", "log group", f"/modelport/{name}"), ("create", "iam role", f"mp-{name}-exec"),
        ("create", "security group", f"mp-{name}"), ("create", "load balancer", f"mp-{name}"),
        ("create", "listener", f"mp-{name}:80")]
    try:
        provider.ensure_infrastructure(target, name)
        provider.ensure_infrastructure(target, name)  # idempotent
        observed = provider.observe(target, name)
        assert provider.infrastructure_plan(target, name, observed) == []
        assert observed.revisions == () and observed.traffic == {} and observed.endpoint is None
        assert _mine(provider, target, name) == ["ecr repository", "ecs cluster", "iam role", "listener",
                                                 "load balancer", "log group", "security group"]
        role = aws.client("iam").get_role(RoleName=f"mp-{name}-exec")["Role"]
        assert "ecs-tasks.amazonaws.com" in json.dumps(role["AssumeRolePolicyDocument"])
        attached = aws.client("iam").list_attached_role_policies(RoleName=f"mp-{name}-exec")["AttachedPolicies"]
        assert [p["PolicyName"] for p in attached] == ["AmazonECSTaskExecutionRolePolicy"]
        registry = provider.registry(target, name)
        assert registry.repository == f"123456789012.dkr.ecr.{aws.region}.amazonaws.com/modelport/{name}"
        assert registry.auth.credentials_for(registry.host).username == "AWS"
        assert "password" not in repr(registry) and "AWS" not in repr(registry.auth)
        # drift: observe reads the cluster once for its services and its infrastructure; a cluster
        # deleted behind modelport's back is still seen and planned again
        aws.client("ecs").delete_cluster(cluster=f"mp-{name}")
        drifted = provider.observe(target, name)
        assert f"ecs cluster mp-{name}" not in drifted.infrastructure and drifted.revisions == ()
        assert [(c.action, c.kind) for c in provider.infrastructure_plan(target, name, drifted)] == [
            ("create", "ecs cluster")]
    finally:
        provider.destroy(target, name)
    assert _mine(provider, target, name) == [] and tagged(aws, name) == []
    assert not provider.observe(target, name).exists


def test_existing_cluster_role_and_security_group_are_used_not_owned(aws_emulation):
    aws, provider, name = aws_emulation, AwsProvider(), unique("given")
    ec2 = aws.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                  {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    cluster = aws.client("ecs").create_cluster(clusterName=f"shared-{name}")["cluster"]["clusterName"]
    role = aws.client("iam").create_role(RoleName=f"given-{name}", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}))["Role"]
    target = _target(aws, cluster=cluster, execution_role_arn=role["Arn"], security_groups=[group["GroupId"]],
                     registry="127.0.0.1:1/unused")
    try:
        plan = provider.infrastructure_plan(target, name, provider.observe(target, name))
        assert [c.kind for c in plan] == ["log group", "load balancer", "listener"]
        provider.ensure_infrastructure(target, name)
        assert provider.infrastructure_plan(target, name, provider.observe(target, name)) == []
    finally:
        provider.destroy(target, name)
    clusters = aws.client("ecs").describe_clusters(clusters=[cluster])["clusters"]
    assert clusters[0]["status"] == "ACTIVE"  # not ours: left alone
    assert aws.client("iam").get_role(RoleName=f"given-{name}")["Role"]["Arn"] == role["Arn"]
    assert tagged(aws, name) == []
    aws.client("ecs").delete_cluster(cluster=cluster)
    aws.client("iam").delete_role(RoleName=f"given-{name}")


def _revision(name: str, revision: str, image: str, **changes) -> RevisionSpec:
    digest = "sha256:" + "0" * 64  # nothing is pushed: the task cannot pull it (its start is not the point)
    base = dict(deployment=name, revision=revision, image=ImageRef(digest, digest, f"{image}@{digest}"),
                size=Size(0.25, 512), port=8080, env={}, secrets={}, min_instances=1, max_instances=2,
                concurrency=10, model_name="iris", model_version="1.0.0", config="one")
    return RevisionSpec(**{**base, **changes})


def test_log_retention_is_reconciled_and_services_are_found_past_the_first_page(aws_emulation):
    aws, provider, name = aws_emulation, AwsProvider(), unique("page")
    target = _target(aws, registry="127.0.0.1:1/unused", log_retention_days=30)
    week = _target(aws, registry="127.0.0.1:1/unused", log_retention_days=7)
    ecs = aws.client("ecs")
    try:
        provider.ensure_infrastructure(target, name)
        plan = provider.infrastructure_plan(week, name, provider.observe(week, name))
        assert [(c.action, c.kind, c.name) for c in plan] == [
            ("update", "log group", f"/modelport/{name} retention 30 -> 7 days")]
        provider.ensure_infrastructure(week, name)
        group = aws.client("logs").describe_log_groups(logGroupNamePrefix=f"/modelport/{name}")["logGroups"][0]
        assert group["retentionInDays"] == 7
        assert provider.infrastructure_plan(week, name, provider.observe(week, name)) == []
        # ECS answers ListServices 10 at a time: revisions on the second page are still found.
        vpc, subnets, group_id = default_network(aws.client("ec2"))
        ecs.register_task_definition(family=f"mp-{name}-x", requiresCompatibilities=["FARGATE"],
                                          networkMode="awsvpc", cpu="256", memory="512",
                                          containerDefinitions=[{"name": "model", "image": "x", "memory": 512}])
        for n in range(1, 13):
            ecs.create_service(cluster=f"mp-{name}", serviceName=f"mp-{name}-r{n}", desiredCount=0,
                               launchType="FARGATE", taskDefinition=f"mp-{name}-x:1",
                               networkConfiguration={"awsvpcConfiguration": {"subnets": subnets[:2],
                                                                             "securityGroups": [group_id]}},
                               tags=[{"key": "modelport:deployment", "value": name},
                                     {"key": "modelport:revision", "value": f"r{n}"}])
        assert len(ecs.list_services(cluster=f"mp-{name}")["serviceArns"]) == 10
        assert [r.name for r in provider.observe(week, name).revisions] == [f"r{n}" for n in range(1, 13)]
        assert _mine(provider, week, name).count("ecs service") == 12
    finally:
        provider.destroy(week, name)  # the cluster goes once the twelve deleted services stop draining
        ecs.deregister_task_definition(taskDefinition=f"mp-{name}-x:1")
    assert tagged(aws, name) == [] and not provider.observe(week, name).exists


def test_a_draining_name_is_waited_for_and_secrets_are_granted_by_full_arn(aws_emulation):
    aws, provider, name = aws_emulation, AwsProvider(), unique("drain")
    target = _target(aws, registry=f"{aws.registry}/modelport", deregistration_delay=3)
    sm, ecs = aws.client("secretsmanager"), aws.client("ecs")
    full = sm.create_secret(Name=f"{name}/db", SecretString="pw", Tags=[])["ARN"]
    partial = full[:-7]  # as a user may write it: without "-" and the random six characters
    first = _revision(name, "r1", f"{aws.registry}/modelport/{name}", secrets={
        "DB": f"aws-sm:{partial}", "TOKEN": "env:MP_UNUSED"}, secret_values={"TOKEN": "t0k"})
    service = f"mp-{name}-r1"
    try:
        provider.ensure_infrastructure(target, name)
        provider.create_revision(target, first)
        role_policy = aws.client("iam").get_role_policy(RoleName=f"mp-{name}-exec", PolicyName="modelport-secrets-r1")
        granted = role_policy["PolicyDocument"]["Statement"][0]["Resource"]
        assert full in granted and partial not in granted
        td = ecs.describe_task_definition(taskDefinition=f"mp-{name}-r1")["taskDefinition"]
        assert {s["name"]: s["valueFrom"] for s in td["containerDefinitions"][0]["secrets"]}["DB"] == full
        tg = aws.client("elbv2").describe_target_groups(Names=[service])["TargetGroups"][0]["TargetGroupArn"]
        attributes = aws.client("elbv2").describe_target_group_attributes(TargetGroupArn=tg)["Attributes"]
        assert {"Key": "deregistration_delay.timeout_seconds", "Value": "3"} in attributes
        # the execution role passes ECS's check (by full ARN): what stops the task is the missing image
        aws.bridge.wait_for(lambda b: b.service(service) and "CannotPull" in (b.service(service).last_error or ""),
                            60, "the task got past the execution role check")
        provider.delete_revision(target, name, "r1")
        assert ecs.describe_services(cluster=f"mp-{name}", services=[service])["services"][0]["status"] == "DRAINING"
        started = time.monotonic()
        provider.create_revision(target, replace(first, config="two"))  # the same names, again
        assert time.monotonic() - started >= 2.5  # waited for the service to drain and the secret to purge
        svc = ecs.describe_services(cluster=f"mp-{name}", services=[service], include=["TAGS"])["services"][0]
        assert svc["status"] == "ACTIVE" and {"key": "modelport:config", "value": "two"} in svc["tags"]
    finally:
        provider.destroy(target, name)
        sm.delete_secret(SecretId=full, ForceDeleteWithoutRecovery=True)
    assert tagged(aws, name) == [] and not provider.observe(target, name).exists
