"""The least-privilege IAM policy for exactly the calls the aws provider makes on a target.

``policy_document(settings)`` lists, per AWS service, the actions modelport calls (``client.py``
records every call as its IAM action; the tests compare that record with this document and run a
deployment with credentials holding only it). What a target's settings make unnecessary is left
out: no ECR actions with a registry override, no role management with ``execution_role_arn``, no
cluster management with ``cluster``, no security-group management with ``security_groups``.

``IMPLIED`` actions are never called directly but AWS checks them during another call: tagging on
create (``CreateService`` with tags needs ``ecs:TagResource``, ...), passing the execution role to
ECS, the service-linked roles ECS, ELB and Application Auto Scaling create on first use, and the
CloudWatch alarms of a target tracking scaling policy.

Resources are ``*``: the actions are least-privilege, the resources are not scoped (yet) — the
emulator used to prove the policy evaluates only ``Resource: "*"``.
"""

from __future__ import annotations

from typing import Any

from .settings import AwsSettings

READ = {
    "ec2": ["DescribeVpcs", "DescribeSubnets", "DescribeSecurityGroups"],
    "elasticloadbalancing": ["DescribeLoadBalancers", "DescribeListeners", "DescribeRules", "DescribeTargetGroups",
                             "DescribeTargetHealth", "DescribeTags"],
    "ecs": ["DescribeClusters", "ListClusters", "ListServices", "DescribeServices", "ListTaskDefinitions",
            "ListTagsForResource"],
    "logs": ["DescribeLogGroups", "ListTagsLogGroup", "FilterLogEvents"],
    "iam": ["ListRoles", "ListRoleTags"],
    "secretsmanager": ["ListSecrets", "DescribeSecret"],
    "application-autoscaling": ["DescribeScalableTargets"],
}
WRITE = {
    "elasticloadbalancing": ["CreateLoadBalancer", "DeleteLoadBalancer", "CreateListener", "ModifyListener",
                             "DeleteListener", "CreateTargetGroup", "ModifyTargetGroupAttributes", "DeleteTargetGroup",
                             "CreateRule", "DeleteRule"],
    "ecs": ["RegisterTaskDefinition", "DeregisterTaskDefinition", "CreateService", "DeleteService"],
    "logs": ["CreateLogGroup", "PutRetentionPolicy", "DeleteLogGroup"],
    "application-autoscaling": ["RegisterScalableTarget", "DeregisterScalableTarget", "PutScalingPolicy"],
    "secretsmanager": ["CreateSecret", "PutSecretValue", "DeleteSecret"],
}
OWN_ROLE = {"iam": ["GetRole", "CreateRole", "DeleteRole", "AttachRolePolicy", "DetachRolePolicy", "PutRolePolicy",
                    "DeleteRolePolicy", "ListRolePolicies", "ListAttachedRolePolicies"]}
OWN_CLUSTER = {"ecs": ["CreateCluster", "DeleteCluster"]}
OWN_GROUP = {"ec2": ["CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "DeleteSecurityGroup"]}
ECR = {"ecr": ["DescribeRepositories", "CreateRepository", "DeleteRepository", "ListTagsForResource",
               "GetAuthorizationToken", "BatchCheckLayerAvailability", "InitiateLayerUpload", "UploadLayerPart",
               "CompleteLayerUpload", "PutImage", "BatchGetImage", "GetDownloadUrlForLayer"]}
IMPLIED = {
    "elasticloadbalancing": ["AddTags"],
    "ecs": ["TagResource"],
    "logs": ["TagResource"],
    "secretsmanager": ["TagResource"],
    "iam": ["PassRole", "CreateServiceLinkedRole"],
    # a target tracking policy's CloudWatch alarms are made and removed with the caller's rights
    # (https://docs.aws.amazon.com/autoscaling/application/userguide/security_iam_id-based-policy-examples.html)
    "cloudwatch": ["PutMetricAlarm", "DescribeAlarms", "DeleteAlarms"],
}
IMPLIED_OWN_ROLE = {"iam": ["TagRole"]}
IMPLIED_OWN_GROUP = {"ec2": ["CreateTags"]}
IMPLIED_ECR = {"ecr": ["TagResource"]}
#: actions AWS allows to everyone (no policy needed)
ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}


def _merge(*groups: dict[str, list[str]]) -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for group in groups:
        for service, actions in group.items():
            out.setdefault(service, set()).update(actions)
    return {k: sorted(v) for k, v in sorted(out.items())}


def actions(settings: AwsSettings, implied: bool = True) -> set[str]:
    """Every ``service:Action`` the provider needs on a target with ``settings``."""
    groups = [READ, WRITE]
    if not settings.execution_role_arn:
        groups += [OWN_ROLE] + ([IMPLIED_OWN_ROLE] if implied else [])
    if not settings.cluster:
        groups.append(OWN_CLUSTER)
    if not settings.security_groups:
        groups += [OWN_GROUP] + ([IMPLIED_OWN_GROUP] if implied else [])
    if not settings.registry:
        groups += [ECR] + ([IMPLIED_ECR] if implied else [])
    if implied:
        groups.append(IMPLIED)
    return {f"{service}:{action}" for service, names in _merge(*groups).items() for action in names}


def policy_document(settings: AwsSettings) -> dict[str, Any]:
    """An IAM policy document (JSON-ready) allowing exactly :func:`actions`."""
    by_service: dict[str, list[str]] = {}
    for action in sorted(actions(settings)):
        by_service.setdefault(action.split(":", 1)[0], []).append(action)
    statements = [{"Sid": "Modelport" + "".join(p.capitalize() for p in service.split("-")),
                   "Effect": "Allow", "Action": names, "Resource": "*"}
                  for service, names in sorted(by_service.items())]
    return {"Version": "2012-10-17", "Statement": statements}
