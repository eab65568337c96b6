"""One revision = task definition + target group + ECS service (+ scaling target and policy, test
listener, header rule, secrets). Create, find, delete; traffic is the main listener's weighted
forward.

Every write survives "applied, but the reply was lost" (botocore retries the call; the retry
must not fail or duplicate): each resource is read before it is written, CreateService carries a
``clientToken`` (its retry answers the service it created), ELB creates are idempotent for the
same settings, and "already exists" / "not found" answers of a retried create / delete are
read as success. A deleted service stays DRAINING for its target group's deregistration delay
and its name cannot be used meanwhile: creating it again waits until it is INACTIVE.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Mapping

from modelport.errors import ProviderError
from modelport.provider import TAG_CONFIG, TAG_DEPLOYMENT, TAG_DIGEST, TAG_REVISION, RevisionSpec

from . import translate as tr
from .client import AwsClient
from .infra import Infra
from .secrets import Secrets
from .translate import Names

TG_MISSING = ("TargetGroupNotFound",)
SVC_MISSING = ("ServiceNotFoundException", "ClusterNotFoundException")
#: a delete retried after its reply was lost finds the service already DRAINING
SVC_GONE = SVC_MISSING + ("ServiceNotActiveException",)
SCALING_MISSING = ("ObjectNotFoundException",)
MODEL_VERSION_TAG = "modelport:model-version"
DRAIN_MARGIN = 60.0  # seconds beyond the deregistration delay for ECS to stop the task
POLL = 2.0


class Revisions:
    """Revisions of ``names.deployment`` on one target."""

    def __init__(self, client: AwsClient, names: Names, infra: Infra) -> None:
        self.client, self.names, self.infra = client, names, infra
        self.secrets = Secrets(client, names)

    # -- reads ------------------------------------------------------------------------------------
    def services(self) -> list[dict[str, Any]]:
        """ACTIVE ECS services tagged with this deployment (tags as a dict under ``_tags``);
        ListServices pages by 10."""
        arns = self.client.pages("ecs", "list_services", "serviceArns", cluster=self.names.cluster,
                                 missing=SVC_MISSING)
        out = []
        for start in range(0, len(arns), 10):
            reply = self.client.call("ecs", "describe_services", cluster=self.names.cluster,
                                     services=arns[start:start + 10], include=["TAGS"])
            for svc in reply["services"]:
                found = tr.from_tag_list(svc.get("tags"))
                if svc.get("status") == "ACTIVE" and found.get(TAG_DEPLOYMENT) == self.names.deployment:
                    out.append({**svc, "_tags": found})
        return out

    def _described(self, revision: str) -> dict[str, Any] | None:
        """The service named for ``revision`` in any status (ACTIVE, DRAINING, INACTIVE)."""
        reply = self.client.call("ecs", "describe_services", cluster=self.names.cluster,
                                 services=[self.names.service(revision)], include=["TAGS"], missing=SVC_MISSING)
        found = (reply or {}).get("services", [])
        return {**found[0], "_tags": tr.from_tag_list(found[0].get("tags"))} if found else None

    def service(self, revision: str) -> dict[str, Any] | None:
        svc = self._described(revision)
        return svc if svc and svc.get("status") == "ACTIVE" else None

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
        """Create every resource of ``rev`` that is missing (idempotent: a repeat completes what an
        interrupted or retried one left)."""
        vpc, subnets, groups = self.infra.network()
        lb = self.infra.load_balancer()
        if lb is None:
            raise ProviderError("aws", "create revision", f"load balancer {self.names.load_balancer} does not exist",
                                hint="deploy again: the plan creates it first")
        refs = self.secrets.prepare(rev)
        self.secrets.allow(rev.revision, list(refs.values()))
        tg = self._target_group(rev, vpc)
        self._smoke_routes(rev, lb["LoadBalancerArn"], tg["TargetGroupArn"])
        if self.service(rev.revision) is None:
            self._create_service(rev, refs, tg["TargetGroupArn"], subnets, groups)
        self.client.call("application-autoscaling", "register_scalable_target", **tr.scalable_target(rev, self.names))
        policy = tr.scaling_policy(rev, self.names, lb["LoadBalancerArn"], tg["TargetGroupArn"])
        if policy is not None:
            self.client.call("application-autoscaling", "put_scaling_policy", **policy)

    def _target_group(self, rev: RevisionSpec, vpc: str) -> dict[str, Any]:
        tg = self.target_group(rev.revision) or self.client.call(
            "elbv2", "create_target_group", **tr.target_group(rev, self.names, vpc))["TargetGroups"][0]
        self.client.call("elbv2", "modify_target_group_attributes", TargetGroupArn=tg["TargetGroupArn"],
                         Attributes=tr.target_group_attributes(self.names.settings))
        return tg

    def _create_service(self, rev: RevisionSpec, refs: Mapping[str, str], tg_arn: str, subnets: list[str],
                        groups: list[str]) -> None:
        self.wait_drained(rev.revision)
        td = self.client.call("ecs", "register_task_definition",
                              **tr.task_definition(rev, self.names, self.infra.role_arn(), self.client.region, refs))
        request = tr.service(rev, self.names, tg_arn, subnets, groups)
        request["taskDefinition"] = td["taskDefinition"]["taskDefinitionArn"]
        request["tags"].append({"key": MODEL_VERSION_TAG, "value": rev.model_version})
        # The token makes botocore's retry of a create whose reply was lost answer that service.
        self.client.call("ecs", "create_service", clientToken=uuid.uuid4().hex, **request)
        # RegisterTaskDefinition is not idempotent: a retried one left another ACTIVE revision.
        self._deregister_task_definitions(rev.revision, keep=request["taskDefinition"])

    def wait_drained(self, revision: str) -> None:
        """Wait until no DRAINING service holds the revision's name (ECS refuses to create it:
        "Creation of service was not idempotent.") — at most the deregistration delay and a margin."""
        deadline = time.monotonic() + self.names.settings.deregistration_delay + DRAIN_MARGIN
        while (svc := self._described(revision)) is not None and svc.get("status") == "DRAINING":
            if time.monotonic() > deadline:
                raise ProviderError("aws", "create revision", f"ECS service {self.names.service(revision)} is still "
                                    "DRAINING", retryable=True, hint="wait for it to become INACTIVE and retry")
            time.sleep(POLL)

    def _smoke_routes(self, rev: RevisionSpec, lb_arn: str, tg_arn: str) -> None:
        """A test listener on the revision's own port, and a header rule on the main listener."""
        listeners = self.infra.listeners(lb_arn)
        port = self.names.smoke_port(rev.revision)
        action = [{"Type": "forward", "TargetGroupArn": tg_arn}]
        test = next((item for item in listeners if item["Port"] == port), None)
        if test is None:
            self.client.call("elbv2", "create_listener", LoadBalancerArn=lb_arn, Port=port, DefaultActions=action,
                             Tags=tr.tag_list(tr.rev_tags(rev)), **tr.listener_protocol(self.names.settings))
        else:
            self.client.call("elbv2", "modify_listener", ListenerArn=test["ListenerArn"], DefaultActions=action)
        main = self.infra.main_listener(listeners)
        if main is not None and self._rule(main["ListenerArn"], rev.revision) is None:
            self._create_rule(rev, tg_arn, main["ListenerArn"])

    def _create_rule(self, rev: RevisionSpec, tg_arn: str, listener_arn: str) -> None:
        try:
            self.client.call("elbv2", "create_rule", **tr.revision_rule(rev.revision, tg_arn, listener_arn,
                                                                        tr.rev_tags(rev)))
        except ProviderError as exc:
            # PriorityInUse on a retry whose first attempt created the rule: it is ours if it
            # forwards to this revision's target group.
            rule = self._rule(listener_arn, rev.revision) if "PriorityInUse" in exc.message else None
            if rule is None or tg_arn not in str(rule.get("Actions")):
                raise

    def _rule(self, listener_arn: str, revision: str) -> dict[str, Any] | None:
        rules = self.client.pages("elbv2", "describe_rules", "Rules", ListenerArn=listener_arn)
        return next((r for r in rules if r.get("Priority") == str(Names.rule_priority(revision))), None)

    # -- delete -----------------------------------------------------------------------------------
    def delete(self, revision: str, drain: bool = True) -> None:
        """Delete every resource of ``revision`` (missing ones are fine). ``drain=False`` (destroy)
        lets the load balancer drop the revision's targets at once: no new request reaches them,
        and the task still finishes the requests it has when ECS stops it (SIGTERM)."""
        n = self.names
        scaling = {"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount"}
        resource = tr.scaling_resource(n, revision)
        if self.client.call("application-autoscaling", "describe_scalable_targets", ResourceIds=[resource],
                            **scaling)["ScalableTargets"]:  # deregistering deletes its policy too
            self.client.call("application-autoscaling", "deregister_scalable_target", ResourceId=resource,
                             missing=SCALING_MISSING, **scaling)
        tg = self.target_group(revision)
        if self.service(revision) is not None:
            if tg is not None and not drain:
                self.client.call("elbv2", "modify_target_group_attributes", TargetGroupArn=tg["TargetGroupArn"],
                                 Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "0"}],
                                 missing=TG_MISSING)
            self.client.call("ecs", "delete_service", cluster=n.cluster, service=n.service(revision), force=True,
                             missing=SVC_GONE)
        self._delete_routes(revision)
        if tg is not None:
            self.client.call("elbv2", "delete_target_group", TargetGroupArn=tg["TargetGroupArn"], missing=TG_MISSING)
        self._deregister_task_definitions(revision)
        self.secrets.delete(revision)

    def _deregister_task_definitions(self, revision: str, keep: str | None = None) -> None:
        family = self.names.family(revision)
        for arn in self.client.pages("ecs", "list_task_definitions", "taskDefinitionArns",
                                     familyPrefix=family, status="ACTIVE"):
            if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family and arn != keep:
                self.client.call("ecs", "deregister_task_definition", taskDefinition=arn)

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

    # -- traffic ----------------------------------------------------------------------------------
    def set_traffic(self, weights: Mapping[str, int]) -> None:
        """Point the main listener's weighted forward at the revisions' target groups."""
        lb = self.infra.load_balancer()
        main = self.infra.main_listener(self.infra.listeners(lb["LoadBalancerArn"])) if lb else None
        if main is None:
            raise ProviderError("aws", "set traffic", f"{self.names.load_balancer} has no listener on port "
                                f"{self.names.settings.main_port}", hint="deploy again to recreate it")
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
