"""One revision = task definition + target group + ECS service (+ scaling target, test listener,
header rule, secrets). Create, find, delete; traffic is the main listener's weighted forward."""

from __future__ import annotations

import json
from typing import Any, Mapping

from modelport.errors import ProviderError
from modelport.provider import TAG_CONFIG, TAG_DEPLOYMENT, TAG_DIGEST, TAG_REVISION, RevisionSpec

from . import translate as tr
from .client import AwsClient
from .infra import Infra
from .translate import Names

TG_MISSING = ("TargetGroupNotFound",)
SVC_MISSING = ("ServiceNotFoundException", "ClusterNotFoundException")
MODEL_VERSION_TAG = "modelport:model-version"


class Revisions:
    """Revisions of ``names.deployment`` on one target."""

    def __init__(self, client: AwsClient, names: Names, infra: Infra) -> None:
        self.client, self.names, self.infra = client, names, infra

    # -- reads ------------------------------------------------------------------------------------
    def services(self) -> list[dict[str, Any]]:
        """ACTIVE ECS services tagged with this deployment (tags as a dict under ``_tags``)."""
        arns = self.client.call("ecs", "list_services", cluster=self.names.cluster, missing=SVC_MISSING)
        arns = (arns or {}).get("serviceArns", [])
        out = []
        for start in range(0, len(arns), 10):
            reply = self.client.call("ecs", "describe_services", cluster=self.names.cluster,
                                     services=arns[start:start + 10], include=["TAGS"])
            for svc in reply["services"]:
                found = tr.from_tag_list(svc.get("tags"))
                if svc.get("status") == "ACTIVE" and found.get(TAG_DEPLOYMENT) == self.names.deployment:
                    out.append({**svc, "_tags": found})
        return out

    def service(self, revision: str) -> dict[str, Any] | None:
        reply = self.client.call("ecs", "describe_services", cluster=self.names.cluster,
                                 services=[self.names.service(revision)], include=["TAGS"], missing=SVC_MISSING)
        for svc in (reply or {}).get("services", []):
            if svc.get("status") == "ACTIVE":
                return {**svc, "_tags": tr.from_tag_list(svc.get("tags"))}
        return None

    def target_group(self, revision: str) -> dict[str, Any] | None:
        reply = self.client.call("elbv2", "describe_target_groups", Names=[self.names.target_group(revision)],
                                 missing=TG_MISSING)
        return reply["TargetGroups"][0] if reply and reply["TargetGroups"] else None

    def healthy_targets(self, target_group_arn: str) -> int:
        reply = self.client.call("elbv2", "describe_target_health", TargetGroupArn=target_group_arn, missing=TG_MISSING)
        return sum(1 for d in (reply or {}).get("TargetHealthDescriptions", [])
                   if d["TargetHealth"]["State"] == "healthy")

    # -- create -----------------------------------------------------------------------------------
    def create(self, rev: RevisionSpec) -> None:
        """Create every resource of ``rev`` that is missing (idempotent)."""
        vpc, subnets, groups = self.infra.network()
        lb = self.infra.load_balancer()
        if lb is None:
            raise ProviderError("aws", "create revision", f"load balancer {self.names.load_balancer} does not exist",
                                hint="deploy again: the plan creates it first")
        role = self.infra.role_arn()
        secret_arns = self._secrets(rev)
        self._allow_secrets(rev.revision, list(secret_arns.values()))
        td = self.client.call("ecs", "register_task_definition",
                              **tr.task_definition(rev, self.names, role, self.client.region, secret_arns))
        tg = self.target_group(rev.revision) or self.client.call(
            "elbv2", "create_target_group", **tr.target_group(rev, self.names, vpc))["TargetGroups"][0]
        self._smoke_routes(rev, lb["LoadBalancerArn"], tg["TargetGroupArn"])
        request = tr.service(rev, self.names, tg["TargetGroupArn"], subnets, groups)
        request["taskDefinition"] = td["taskDefinition"]["taskDefinitionArn"]
        request["tags"].append({"key": MODEL_VERSION_TAG, "value": rev.model_version})
        self.client.call("ecs", "create_service", **request)
        self.client.call("application-autoscaling", "register_scalable_target", **tr.scalable_target(rev, self.names))

    def _secrets(self, rev: RevisionSpec) -> dict[str, str]:
        """Env name -> Secrets Manager ARN: native references as they are; values resolved on this
        machine (``env:``/``file:``) are stored as secrets of the revision, never in the task definition."""
        arns = tr.secret_refs(rev)
        for key, value in sorted(rev.secret_values.items()):
            name = f"modelport/{rev.deployment}/{rev.revision}/{key}"
            created = self.client.call("secretsmanager", "create_secret", Name=name, SecretString=value,
                                       Tags=tr.tag_list(tr.rev_tags(rev)), missing=("ResourceExistsException",))
            if created is None:
                created = self.client.call("secretsmanager", "put_secret_value", SecretId=name, SecretString=value)
            arns[key] = created["ARN"]
        return arns

    def _allow_secrets(self, revision: str, arns: list[str]) -> None:
        """The execution role modelport created may read exactly this revision's secrets."""
        if not arns or self.names.settings.execution_role_arn:
            return
        doc = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": sorted(arns)}]}
        self.client.call("iam", "put_role_policy", RoleName=self.names.role, PolicyName=f"modelport-secrets-{revision}",
                         PolicyDocument=json.dumps(doc))

    def _smoke_routes(self, rev: RevisionSpec, lb_arn: str, tg_arn: str) -> None:
        """A test listener on the revision's own port, and a header rule on the main listener."""
        listeners = self.infra.listeners(lb_arn)
        port = self.names.smoke_port(rev.revision)
        action = [{"Type": "forward", "TargetGroupArn": tg_arn}]
        test = next((item for item in listeners if item["Port"] == port), None)
        if test is None:
            self.client.call("elbv2", "create_listener", LoadBalancerArn=lb_arn, Protocol="HTTP", Port=port,
                             DefaultActions=action, Tags=tr.tag_list(tr.rev_tags(rev)))
        else:
            self.client.call("elbv2", "modify_listener", ListenerArn=test["ListenerArn"], DefaultActions=action)
        main = self.infra.main_listener(listeners)
        if main is not None and self._rule(main["ListenerArn"], rev.revision) is None:
            self.client.call("elbv2", "create_rule", **tr.revision_rule(rev.revision, tg_arn, main["ListenerArn"],
                                                                        tr.rev_tags(rev)))

    def _rule(self, listener_arn: str, revision: str) -> dict[str, Any] | None:
        rules = self.client.call("elbv2", "describe_rules", ListenerArn=listener_arn)["Rules"]
        return next((r for r in rules if r.get("Priority") == str(Names.rule_priority(revision))), None)

    # -- delete -----------------------------------------------------------------------------------
    def delete(self, revision: str) -> None:
        """Delete every resource of ``revision`` (missing ones are fine)."""
        n = self.names
        scaling = {"ServiceNamespace": "ecs", "ResourceIds": [tr.scaling_resource(n, revision)],
                   "ScalableDimension": "ecs:service:DesiredCount"}
        if self.client.call("application-autoscaling", "describe_scalable_targets", **scaling)["ScalableTargets"]:
            self.client.call("application-autoscaling", "deregister_scalable_target", ServiceNamespace="ecs",
                             ResourceId=scaling["ResourceIds"][0], ScalableDimension=scaling["ScalableDimension"],
                             missing=("ObjectNotFoundException",))
        if self.service(revision) is not None:
            self.client.call("ecs", "delete_service", cluster=n.cluster, service=n.service(revision), force=True,
                             missing=SVC_MISSING)
        self._delete_routes(revision)
        tg = self.target_group(revision)
        if tg is not None:
            self.client.call("elbv2", "delete_target_group", TargetGroupArn=tg["TargetGroupArn"], missing=TG_MISSING)
        for arn in self.client.call("ecs", "list_task_definitions", familyPrefix=n.family(revision),
                                    status="ACTIVE")["taskDefinitionArns"]:
            if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == n.family(revision):
                self.client.call("ecs", "deregister_task_definition", taskDefinition=arn)
        self._delete_secrets(revision)

    def _delete_routes(self, revision: str) -> None:
        lb = self.infra.load_balancer()
        if lb is None:
            return
        listeners = self.infra.listeners(lb["LoadBalancerArn"])
        main = self.infra.main_listener(listeners)
        rule = self._rule(main["ListenerArn"], revision) if main else None
        if rule is not None:
            self.client.call("elbv2", "delete_rule", RuleArn=rule["RuleArn"], missing=("RuleNotFound",))
        test = next((item for item in listeners if item["Port"] == self.names.smoke_port(revision)), None)
        if test is not None:
            self.client.call("elbv2", "delete_listener", ListenerArn=test["ListenerArn"], missing=("ListenerNotFound",))

    def _delete_secrets(self, revision: str) -> None:
        prefix = f"modelport/{self.names.deployment}/{revision}/"
        for secret in self.client.pages("secretsmanager", "list_secrets", "SecretList",
                                        Filters=[{"Key": "name", "Values": [prefix]}]):
            if secret["Name"].startswith(prefix):
                self.client.call("secretsmanager", "delete_secret", SecretId=secret["ARN"],
                                 ForceDeleteWithoutRecovery=True, missing=("ResourceNotFoundException",))
        if not self.names.settings.execution_role_arn:
            self.client.call("iam", "delete_role_policy", RoleName=self.names.role,
                             PolicyName=f"modelport-secrets-{revision}", missing=("NoSuchEntity",))

    # -- traffic ----------------------------------------------------------------------------------
    def set_traffic(self, weights: Mapping[str, int]) -> None:
        """Point the main listener's weighted forward at the revisions' target groups."""
        lb = self.infra.load_balancer()
        main = self.infra.main_listener(self.infra.listeners(lb["LoadBalancerArn"])) if lb else None
        if main is None:
            raise ProviderError("aws", "set traffic", f"{self.names.load_balancer} has no listener on port "
                                f"{self.names.settings.listener_port}", hint="deploy again to recreate it")
        groups = {}
        for revision, weight in weights.items():
            tg = self.target_group(revision) if weight > 0 else None
            if weight > 0 and tg is None:
                raise ProviderError("aws", "set traffic", f"revision {revision!r} has no target group")
            if tg is not None:
                groups[revision] = tg["TargetGroupArn"]
        self.client.call("elbv2", "modify_listener", ListenerArn=main["ListenerArn"],
                         DefaultActions=tr.forward(weights, groups))


def revision_tags(svc: dict[str, Any]) -> tuple[str, str, str]:
    """(revision, digest, config) from a service's tags."""
    found = svc["_tags"]
    return found.get(TAG_REVISION, ""), found.get(TAG_DIGEST, ""), found.get(TAG_CONFIG, "")
