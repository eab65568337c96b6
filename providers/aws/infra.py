"""The shared resources of one deployment: ECR repository, ECS cluster, log group, execution
role, security group, application load balancer and its listener. Reads, creates, deletes.

Each create is read-before-write and reads "already exists" as done, so a create whose reply
was lost (the retry finds it) completes; the log group's retention is reconciled, not only set
on creation."""

from __future__ import annotations

import json
import time
from typing import Any

from modelport.errors import ProviderError
from modelport.provider import TAG_DEPLOYMENT, InfraChange

from .client import AwsClient
from .translate import (ECS_TASKS_TRUST, EXECUTION_POLICY_ARN, NO_REVISION, REDIRECT_TO_HTTPS, Names, ingress,
                        listener_protocol, tag_list, tags)

LB_MISSING = ("LoadBalancerNotFound",)
ROLE_MISSING = ("NoSuchEntity",)
CLUSTER_WAIT_MARGIN = 60.0  # seconds beyond the deregistration delay for DRAINING services to end


class Infra:
    """Shared resources of ``names.deployment`` on one target."""

    def __init__(self, client: AwsClient, names: Names) -> None:
        self.client, self.names, self.settings = client, names, names.settings

    # -- reads ------------------------------------------------------------------------------------
    def vpc_id(self) -> str:
        if self.settings.vpc_id:
            return self.settings.vpc_id
        vpcs = self.client.call("ec2", "describe_vpcs", Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            raise ProviderError("aws", "find the default VPC", f"region {self.client.region} has no default VPC",
                                hint="set targets.NAME.vpc_id and subnets")
        return vpcs[0]["VpcId"]

    def subnets(self, vpc_id: str) -> list[str]:
        if self.settings.subnets:
            return list(self.settings.subnets)
        found = self.client.call("ec2", "describe_subnets", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
        by_zone: dict[str, str] = {}
        for subnet in sorted(found, key=lambda s: (s["AvailabilityZone"], s["SubnetId"])):
            by_zone.setdefault(subnet["AvailabilityZone"], subnet["SubnetId"])
        if len(by_zone) < 2:
            raise ProviderError("aws", "choose subnets", f"VPC {vpc_id} has subnets in fewer than two zones "
                                "(an application load balancer needs two)", hint="set targets.NAME.subnets")
        return list(by_zone.values())

    def security_group(self, vpc_id: str) -> str | None:
        """The group modelport created for the deployment, if it exists."""
        groups = self.client.call("ec2", "describe_security_groups", Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [self.names.security_group]}])
        return groups["SecurityGroups"][0]["GroupId"] if groups["SecurityGroups"] else None

    def network(self) -> tuple[str, list[str], list[str]]:
        """(vpc id, subnets, security groups) the load balancer and tasks use."""
        vpc = self.vpc_id()
        groups = list(self.settings.security_groups) or [g for g in [self.security_group(vpc)] if g]
        if not groups:
            raise ProviderError("aws", "find the security group", f"{self.names.security_group} does not exist "
                                "in VPC " + vpc, hint="deploy again: it is created with the load balancer")
        return vpc, self.subnets(vpc), groups

    def load_balancer(self) -> dict[str, Any] | None:
        reply = self.client.call("elbv2", "describe_load_balancers", Names=[self.names.load_balancer],
                                 missing=LB_MISSING)
        return reply["LoadBalancers"][0] if reply and reply["LoadBalancers"] else None

    def listeners(self, lb_arn: str) -> list[dict[str, Any]]:
        return self.client.call("elbv2", "describe_listeners", LoadBalancerArn=lb_arn)["Listeners"]

    def main_listener(self, listeners: list[dict[str, Any]]) -> dict[str, Any] | None:
        return next((item for item in listeners if item["Port"] == self.settings.main_port), None)

    def redirect_listener(self, listeners: list[dict[str, Any]]) -> dict[str, Any] | None:
        """With a certificate: the plain-HTTP listener that redirects to HTTPS."""
        if not self.settings.tls:
            return None
        return next((item for item in listeners if item["Port"] == self.settings.listener_port), None)

    def cluster_active(self) -> bool:
        reply = self.client.call("ecs", "describe_clusters", clusters=[self.names.cluster])
        return any(c.get("status") == "ACTIVE" for c in reply.get("clusters", []))

    def role_arn(self) -> str | None:
        if self.settings.execution_role_arn:
            return self.settings.execution_role_arn
        reply = self.client.call("iam", "get_role", RoleName=self.names.role, missing=ROLE_MISSING)
        return reply["Role"]["Arn"] if reply else None

    def log_group(self) -> dict[str, Any] | None:
        groups = self.client.pages("logs", "describe_log_groups", "logGroups", logGroupNamePrefix=self.names.log_group)
        return next((g for g in groups if g["logGroupName"] == self.names.log_group), None)

    def log_group_exists(self) -> bool:
        return self.log_group() is not None

    def retention_change(self) -> InfraChange | None:
        """An existing log group keeping logs for another number of days than ``log_retention_days``."""
        group = self.log_group()
        wanted = self.settings.log_retention_days
        if group is None or group.get("retentionInDays") == wanted:
            return None
        return InfraChange("update", "log group", f"{self.names.log_group} retention "
                                                  f"{group.get('retentionInDays') or 'never expires'} -> {wanted} days")

    def repository_exists(self) -> bool:
        reply = self.client.call("ecr", "describe_repositories", repositoryNames=[self.names.repository],
                                 missing=("RepositoryNotFoundException",))
        return bool(reply and reply["repositories"])

    def existing(self, lb: dict[str, Any] | None, listeners: list[dict[str, Any]],
                 cluster_active: bool | None = None) -> list[str]:
        """``"kind name"`` of every shared resource that exists (what ``Observed.infrastructure`` holds);
        ``lb``, ``listeners`` and ``cluster_active`` are what the caller has just read."""
        n, out = self.names, []
        if self.settings.registry is None and self.repository_exists():
            out.append(f"ecr repository {n.repository}")
        if cluster_active is None:
            cluster_active = n.owns_cluster and self.cluster_active()
        if n.owns_cluster and cluster_active:
            out.append(f"ecs cluster {n.cluster}")
        if self.log_group_exists():
            out.append(f"log group {n.log_group}")
        if not self.settings.execution_role_arn and self.role_arn():
            out.append(f"iam role {n.role}")
        if not self.settings.security_groups and self.security_group(self.vpc_id()):
            out.append(f"security group {n.security_group}")
        if lb:
            out.append(f"load balancer {n.load_balancer}")
        if self.main_listener(listeners):
            out.append(f"listener {n.load_balancer}:{self.settings.main_port}")
        if self.redirect_listener(listeners):
            out.append(f"redirect listener {n.load_balancer}:{self.settings.listener_port}")
        return out

    def wanted(self) -> list[tuple[str, str]]:
        """(kind, name) of every shared resource the deployment needs modelport to create."""
        n = self.names
        out = [("ecr repository", n.repository)] if self.settings.registry is None else []
        out += [("ecs cluster", n.cluster)] if n.owns_cluster else []
        out.append(("log group", n.log_group))
        out += [("iam role", n.role)] if not self.settings.execution_role_arn else []
        out += [("security group", n.security_group)] if not self.settings.security_groups else []
        out += [("load balancer", n.load_balancer), ("listener", f"{n.load_balancer}:{self.settings.main_port}")]
        if self.settings.tls:
            out.append(("redirect listener", f"{n.load_balancer}:{self.settings.listener_port}"))
        return out

    def plan(self, existing: tuple[str, ...]) -> list[InfraChange]:
        """What :meth:`ensure` would create or change, given what ``observe`` found."""
        out = [InfraChange("create", kind, name) for kind, name in self.wanted() if f"{kind} {name}" not in existing]
        retention = self.retention_change() if f"log group {self.names.log_group}" in existing else None
        return out + ([retention] if retention else [])

    # -- creates (each idempotent) ----------------------------------------------------------------
    def ensure(self) -> None:
        """Create whatever shared resource is missing."""
        owner = tags(self.names.deployment)
        if self.settings.registry is None and not self.repository_exists():
            self.client.call("ecr", "create_repository", repositoryName=self.names.repository,
                             imageScanningConfiguration={"scanOnPush": True}, tags=tag_list(owner),
                             missing=("RepositoryAlreadyExistsException",))
        if self.names.owns_cluster and not self.cluster_active():
            self.client.call("ecs", "create_cluster", clusterName=self.names.cluster,
                             tags=tag_list(owner, "key", "value"))
        self._ensure_log_group(owner)
        if not self.settings.execution_role_arn and not self.role_arn():
            self._create_role(owner)
        vpc = self.vpc_id()
        groups = list(self.settings.security_groups) or [self.security_group(vpc) or self._create_group(vpc, owner)]
        lb = self.load_balancer() or self._create_load_balancer(self.subnets(vpc), groups, owner)
        listeners = self.listeners(lb["LoadBalancerArn"])
        if not self.main_listener(listeners):
            self.client.call("elbv2", "create_listener", LoadBalancerArn=lb["LoadBalancerArn"],
                             Port=self.settings.main_port, DefaultActions=NO_REVISION, Tags=tag_list(owner),
                             **listener_protocol(self.settings))
        if self.settings.tls and not self.redirect_listener(listeners):
            self.client.call("elbv2", "create_listener", LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP",
                             Port=self.settings.listener_port, DefaultActions=REDIRECT_TO_HTTPS, Tags=tag_list(owner))

    def _ensure_log_group(self, owner: dict[str, str]) -> None:
        group = self.log_group()
        if group is None:
            self.client.call("logs", "create_log_group", logGroupName=self.names.log_group, tags=owner,
                             missing=("ResourceAlreadyExistsException",))
        if group is None or group.get("retentionInDays") != self.settings.log_retention_days:
            self.client.call("logs", "put_retention_policy", logGroupName=self.names.log_group,
                             retentionInDays=self.settings.log_retention_days)

    def _create_role(self, owner: dict[str, str]) -> None:
        self.client.call("iam", "create_role", RoleName=self.names.role, Tags=tag_list(owner),
                         AssumeRolePolicyDocument=json.dumps(ECS_TASKS_TRUST), missing=("EntityAlreadyExists",),
                         Description=f"ECS task execution role of modelport deployment {self.names.deployment}")
        self.client.call("iam", "attach_role_policy", RoleName=self.names.role, PolicyArn=EXECUTION_POLICY_ARN)

    def _create_group(self, vpc: str, owner: dict[str, str]) -> str:
        created = self.client.call("ec2", "create_security_group", GroupName=self.names.security_group, VpcId=vpc,
                                   Description=f"modelport {self.names.deployment}: load balancer and tasks",
                                   TagSpecifications=[{"ResourceType": "security-group", "Tags": tag_list(owner)}],
                                   missing=("InvalidGroup.Duplicate",))
        group = created["GroupId"] if created else self.security_group(vpc)
        self.client.call("ec2", "authorize_security_group_ingress", GroupId=group, missing=("InvalidPermission.Duplicate",),
                         IpPermissions=[*ingress(self.settings), {
                             "IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535,
                             "UserIdGroupPairs": [{"GroupId": group, "Description": "load balancer to tasks"}]}])
        return group

    def _create_load_balancer(self, subnets: list[str], groups: list[str], owner: dict[str, str]) -> dict[str, Any]:
        reply = self.client.call("elbv2", "create_load_balancer", Name=self.names.load_balancer, Subnets=subnets,
                                 SecurityGroups=groups, Scheme=self.settings.scheme, Type="application",
                                 IpAddressType="ipv4", Tags=tag_list(owner))
        return reply["LoadBalancers"][0]

    # -- deletes ------------------------------------------------------------------------------------
    def destroy(self) -> None:
        """Delete every shared resource modelport created for the deployment (revisions first!)."""
        lb = self.load_balancer()
        if lb and self._owned_lb(lb):
            for listener in self.listeners(lb["LoadBalancerArn"]):
                self.client.call("elbv2", "delete_listener", ListenerArn=listener["ListenerArn"], missing=("ListenerNotFound",))
            self.client.call("elbv2", "delete_load_balancer", LoadBalancerArn=lb["LoadBalancerArn"], missing=LB_MISSING)
        if not self.settings.security_groups:
            self._delete_group()
        if self.names.owns_cluster and self.cluster_active():
            self._delete_cluster()
        if self.log_group_exists():
            self.client.call("logs", "delete_log_group", logGroupName=self.names.log_group,
                             missing=("ResourceNotFoundException",))
        if not self.settings.execution_role_arn and self.role_arn():
            self._delete_role()
        if self.settings.registry is None and self.repository_exists():
            self.client.call("ecr", "delete_repository", repositoryName=self.names.repository, force=True,
                             missing=("RepositoryNotFoundException",))

    def _owned_lb(self, lb: dict[str, Any]) -> bool:
        reply = self.client.call("elbv2", "describe_tags", ResourceArns=[lb["LoadBalancerArn"]])
        found = {t["Key"]: t["Value"] for d in reply["TagDescriptions"] for t in d.get("Tags", [])}
        return found.get(TAG_DEPLOYMENT) == self.names.deployment

    def _delete_group(self, timeout: float = 300) -> None:
        group = self.security_group(self.vpc_id())
        deadline = time.monotonic() + timeout
        while group:
            try:
                self.client.call("ec2", "delete_security_group", GroupId=group, missing=("InvalidGroup.NotFound",))
                return
            except ProviderError as exc:
                # The load balancer's network interfaces hold the group for a while after deletion.
                if "DependencyViolation" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(10)

    def _delete_cluster(self) -> None:
        """Delete the cluster once its deleted services stopped DRAINING (ECS refuses before:
        ClusterContainsServicesException)."""
        deadline = time.monotonic() + self.settings.deregistration_delay + CLUSTER_WAIT_MARGIN
        while True:
            try:
                self.client.call("ecs", "delete_cluster", cluster=self.names.cluster,
                                 missing=("ClusterNotFoundException",))
                return
            except ProviderError as exc:
                if "ClusterContainsServicesException" not in exc.message or time.monotonic() > deadline:
                    raise
                time.sleep(2)

    def _delete_role(self) -> None:
        role = self.names.role
        for name in self.client.call("iam", "list_role_policies", RoleName=role)["PolicyNames"]:
            self.client.call("iam", "delete_role_policy", RoleName=role, PolicyName=name, missing=ROLE_MISSING)
        for policy in self.client.call("iam", "list_attached_role_policies", RoleName=role)["AttachedPolicies"]:
            self.client.call("iam", "detach_role_policy", RoleName=role, PolicyArn=policy["PolicyArn"], missing=ROLE_MISSING)
        self.client.call("iam", "delete_role", RoleName=role, missing=ROLE_MISSING)
