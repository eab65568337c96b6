"""Shared resources of the aws provider against moto (no image needed): what it plans, creates,
tags and deletes; the ECR repository and its credentials; an existing cluster/role/security group."""

from __future__ import annotations

import json

import pytest

from modelport.provider import Target
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
