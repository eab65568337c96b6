"""Every resource on the account carrying modelport's tags, found with each service's own
describe/list + tags calls (the Resource Groups Tagging API is not used: it is one more
permission, and it lags behind fresh resources)."""

from __future__ import annotations

from typing import Any, Iterable

from modelport.provider import TAG_DEPLOYMENT, TAG_DIGEST, TAG_REVISION, Resource

from .client import AwsClient
from .settings import AwsSettings
from .translate import from_tag_list


def list_tagged(client: AwsClient, settings: AwsSettings) -> list[Resource]:
    """Resources of any deployment (load balancers, target groups, clusters, services, task
    definitions, log groups, roles, security groups, repositories, secrets)."""
    found: list[Resource] = []
    for collect in (_elb, _ecs, _logs, _roles, _groups, _secrets):
        found.extend(collect(client, settings))
    if settings.registry is None:
        found.extend(_repositories(client))
    return found


def _resource(kind: str, ident: str, tags: dict[str, str], **extra: Any) -> Resource | None:
    if TAG_DEPLOYMENT not in tags:
        return None
    return Resource(kind, ident, tags[TAG_DEPLOYMENT], tags.get(TAG_REVISION), tags.get(TAG_DIGEST), extra)


def _keep(items: Iterable[Resource | None]) -> list[Resource]:
    return [r for r in items if r is not None]


def _elb(client: AwsClient, _settings: AwsSettings) -> list[Resource]:
    arns = {lb["LoadBalancerArn"]: "load balancer"
            for lb in client.pages("elbv2", "describe_load_balancers", "LoadBalancers")}
    arns.update({tg["TargetGroupArn"]: "target group"
                 for tg in client.pages("elbv2", "describe_target_groups", "TargetGroups")})
    for lb_arn in [a for a, k in arns.items() if k == "load balancer"]:
        arns.update({item["ListenerArn"]: "listener" for item in
                     client.call("elbv2", "describe_listeners", LoadBalancerArn=lb_arn)["Listeners"]})
    out, keys = [], list(arns)
    for start in range(0, len(keys), 20):  # DescribeTags takes at most 20 ARNs
        reply = client.call("elbv2", "describe_tags", ResourceArns=keys[start:start + 20])
        out += [_resource(arns[d["ResourceArn"]], d["ResourceArn"], from_tag_list(d.get("Tags")))
                for d in reply["TagDescriptions"]]
    return _keep(out)


def _ecs(client: AwsClient, settings: AwsSettings) -> list[Resource]:
    out: list[Resource | None] = []
    clusters = client.pages("ecs", "list_clusters", "clusterArns")
    for start in range(0, len(clusters), 100):
        reply = client.call("ecs", "describe_clusters", clusters=clusters[start:start + 100], include=["TAGS"])
        out += [_resource("ecs cluster", c["clusterArn"], from_tag_list(c.get("tags")))
                for c in reply["clusters"] if c.get("status") == "ACTIVE"]
    for cluster in clusters:
        services = client.pages("ecs", "list_services", "serviceArns", cluster=cluster)
        for start in range(0, len(services), 10):
            reply = client.call("ecs", "describe_services", cluster=cluster, services=services[start:start + 10],
                                include=["TAGS"])
            out += [_resource("ecs service", s["serviceArn"], from_tag_list(s.get("tags")))
                    for s in reply["services"] if s.get("status") == "ACTIVE"]
    # familyPrefix is a full family name, so list every ACTIVE one and keep modelport's by name
    for arn in client.pages("ecs", "list_task_definitions", "taskDefinitionArns", status="ACTIVE"):
        if not arn.rsplit("/", 1)[-1].startswith(f"{settings.name_prefix}-"):
            continue
        tags = client.call("ecs", "list_tags_for_resource", resourceArn=arn).get("tags")
        out.append(_resource("task definition", arn, from_tag_list(tags)))
    return _keep(out)


def _logs(client: AwsClient, _settings: AwsSettings) -> list[Resource]:
    out = []
    for group in client.pages("logs", "describe_log_groups", "logGroups", logGroupNamePrefix="/modelport/"):
        tags = client.call("logs", "list_tags_log_group", logGroupName=group["logGroupName"]).get("tags", {})
        out.append(_resource("log group", group["logGroupName"], tags))
    return _keep(out)


def _roles(client: AwsClient, settings: AwsSettings) -> list[Resource]:
    out = []
    for role in client.pages("iam", "list_roles", "Roles"):
        if role["RoleName"].startswith(f"{settings.name_prefix}-"):
            tags = client.call("iam", "list_role_tags", RoleName=role["RoleName"]).get("Tags")
            out.append(_resource("iam role", role["Arn"], from_tag_list(tags)))
    return _keep(out)


def _groups(client: AwsClient, _settings: AwsSettings) -> list[Resource]:
    reply = client.call("ec2", "describe_security_groups", Filters=[{"Name": "tag-key", "Values": [TAG_DEPLOYMENT]}])
    return _keep(_resource("security group", g["GroupId"], from_tag_list(g.get("Tags")))
                 for g in reply["SecurityGroups"])


def _secrets(client: AwsClient, _settings: AwsSettings) -> list[Resource]:
    found = client.pages("secretsmanager", "list_secrets", "SecretList",
                         Filters=[{"Key": "tag-key", "Values": [TAG_DEPLOYMENT]}])
    return _keep(_resource("secret", s["ARN"], from_tag_list(s.get("Tags"))) for s in found)


def _repositories(client: AwsClient) -> list[Resource]:
    out = []
    for repo in client.pages("ecr", "describe_repositories", "repositories"):
        tags = client.call("ecr", "list_tags_for_resource", resourceArn=repo["repositoryArn"]).get("tags")
        out.append(_resource("ecr repository", repo["repositoryArn"], from_tag_list(tags)))
    return _keep(out)
