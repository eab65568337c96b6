"""The aws provider: the neutral spec -> ECS on Fargate behind an application load balancer."""

from __future__ import annotations

import os
from typing import Any, Mapping

from modelport.errors import ProviderError, SpecError
from modelport.provider import (Capabilities, Health, ImageRepository, InfraChange, Observed, Provider,
                                Resource, Revision, RevisionSpec, Size, Target)

from . import sizes
from . import translate as tr
from .client import AwsClient
from .infra import Infra
from .resources import list_tagged
from .revisions import MODEL_VERSION_TAG, Revisions, revision_tags
from .settings import AwsSettings
from .translate import Names


class AwsProvider(Provider):
    """Revisions are ECS services + target groups; traffic is the listener's weighted forward."""

    name = "aws"
    description = "AWS ECS on Fargate behind an application load balancer (images in ECR)"
    capabilities = Capabilities(
        traffic_split=True, gpu=False, needs_registry=True, revision_endpoints=True,
        secret_schemes=(tr.SECRET_SCHEME,),
        notes="canary = the ALB listener's weighted forward; secrets as aws-sm:<Secrets Manager ARN>")
    settings_model = AwsSettings

    def __init__(self) -> None:
        self._clients: dict[tuple, AwsClient] = {}

    # -- plumbing ---------------------------------------------------------------------------------
    def client(self, target: Target) -> AwsClient:
        """The (cached) AWS client of ``target``; it records the IAM actions it used."""
        key = (target.name, target.settings.model_dump_json())
        if key not in self._clients:
            self._clients[key] = AwsClient(target.settings, target.name)
        return self._clients[key]

    def _parts(self, target: Target, deployment: str) -> tuple[Names, Infra, Revisions]:
        names = Names(target.settings, deployment)
        infra = Infra(self.client(target), names)
        return names, infra, Revisions(self.client(target), names, infra)

    # -- pure -------------------------------------------------------------------------------------
    def fit_size(self, size: Size, target: Target) -> tuple[Size, list[str]]:
        return sizes.fit_size(size)

    def check_size(self, size: Size, target: Target) -> None:
        sizes.check_size(size)

    def translate(self, rev: RevisionSpec, target: Target) -> dict[str, Any]:
        return tr.summary(rev, Names(target.settings, rev.deployment))

    def registry(self, target: Target, deployment: str) -> ImageRepository | None:
        s: AwsSettings = target.settings
        if s.registry:
            return ImageRepository(f"{s.registry}/{deployment}", _basic_auth(s))
        from .ecr_auth import EcrAuth

        client = self.client(target)
        account = client.call("sts", "get_caller_identity")["Account"]
        host = f"{account}.dkr.ecr.{client.region}.amazonaws.com"
        return ImageRepository(f"{host}/{Names(s, deployment).repository}", EcrAuth(client.sdk("ecr")))

    def iam_policy(self, target: Target) -> dict[str, Any]:
        """The least-privilege IAM policy document for what this provider calls on ``target``."""
        from .iam import policy_document

        return policy_document(target.settings)

    # -- reads ------------------------------------------------------------------------------------
    def observe(self, target: Target, deployment: str) -> Observed:
        names, infra, revs = self._parts(target, deployment)
        lb = infra.load_balancer()
        listeners = infra.listeners(lb["LoadBalancerArn"]) if lb else []
        cluster = names.owns_cluster and infra.cluster_active()  # read once: services and infrastructure
        services = revs.services() if (not names.owns_cluster or cluster) else []
        by_group, revisions = {}, []
        for svc in services:
            revision, digest, config = revision_tags(svc)
            groups = [b["targetGroupArn"] for b in svc.get("loadBalancers", []) if b.get("targetGroupArn")]
            by_group.update({g: revision for g in groups})
            healthy = sum(revs.healthy_targets(g) for g in groups)
            revisions.append(Revision(
                revision, digest, config, ready=healthy > 0,
                endpoint=_url(target, lb, names.smoke_port(revision)) if lb else None,
                created=_iso(svc.get("createdAt")),
                extra={"service": svc["serviceName"], "task_definition": svc.get("taskDefinition"),
                       "healthy_tasks": healthy, "desired_tasks": svc.get("desiredCount"),
                       "model_version": svc["_tags"].get(MODEL_VERSION_TAG)}))
        main = infra.main_listener(listeners)
        traffic = _weights(main, by_group) if main else {}
        endpoint = _url(target, lb, target.settings.main_port) if lb and main and traffic else None
        return Observed(deployment, tuple(sorted(revisions, key=lambda r: tr.revision_number(r.name))), traffic,
                        endpoint, tuple(infra.existing(lb, listeners, cluster)),
                        extra={"load_balancer": lb["DNSName"] if lb else None, "cluster": names.cluster})

    def infrastructure_plan(self, target: Target, deployment: str, observed: Observed) -> list[InfraChange]:
        _names, infra, _revs = self._parts(target, deployment)
        return infra.plan(observed.infrastructure)

    def health(self, target: Target, deployment: str, revision: str) -> Health:
        names, infra, revs = self._parts(target, deployment)
        svc = revs.service(revision)
        if svc is None:
            return Health(False, f"revision {revision} has no ECS service {names.service(revision)}", failed=True)
        lb = infra.load_balancer()
        endpoint = _url(target, lb, names.smoke_port(revision)) if lb else None
        headers = {tr.REVISION_HEADER: revision}
        if any(d.get("rolloutState") == "FAILED" for d in svc.get("deployments", [])):
            reason = next((d.get("rolloutStateReason") for d in svc["deployments"] if d.get("rolloutStateReason")), "")
            return Health(False, f"ECS deployment failed: {reason}", endpoint, headers, failed=True)
        groups = [b["targetGroupArn"] for b in svc.get("loadBalancers", []) if b.get("targetGroupArn")]
        healthy = sum(revs.healthy_targets(g) for g in groups)
        if healthy == 0:
            event = (svc.get("events") or [{}])[0].get("message", "")
            return Health(False, "no healthy task in the target group yet" + (f" ({event})" if event else ""),
                          endpoint, headers)
        return Health(True, f"{healthy} healthy task(s)", endpoint, headers)

    def list_resources(self, target: Target) -> list[Resource]:
        return list_tagged(self.client(target), target.settings)

    def logs(self, target: Target, deployment: str, revision: str | None, tail: int = 100) -> str:
        names, _infra, _revs = self._parts(target, deployment)
        kwargs = {"logGroupName": names.log_group, "limit": tail}
        if revision:
            kwargs["logStreamNamePrefix"] = f"{revision}/"
        reply = self.client(target).call("logs", "filter_log_events", missing=("ResourceNotFoundException",), **kwargs)
        return "\n".join(e["message"] for e in (reply or {}).get("events", []))

    # -- writes -----------------------------------------------------------------------------------
    def ensure_infrastructure(self, target: Target, deployment: str) -> None:
        self._parts(target, deployment)[1].ensure()

    def create_revision(self, target: Target, rev: RevisionSpec) -> Revision:
        sizes.check_size(rev.size)
        if not rev.image.ref:
            raise ProviderError("aws", "create revision", f"image {rev.image.digest} has no registry reference")
        _names, _infra, revs = self._parts(target, rev.deployment)
        existing = revs.service(rev.revision)
        if existing is not None and revision_tags(existing)[2] != rev.config:
            revs.delete(rev.revision)  # same name, other configuration: replace it (after its drain)
        revs.create(rev)  # completes whatever an interrupted or retried create left undone
        return self._revision(target, rev.deployment, rev.revision)

    def _revision(self, target: Target, deployment: str, revision: str) -> Revision:
        found = self.observe(target, deployment).revision(revision)
        if found is None:
            raise ProviderError("aws", "create revision", f"ECS does not report revision {revision} after creating it")
        return found

    def delete_revision(self, target: Target, deployment: str, revision: str) -> None:
        self._parts(target, deployment)[2].delete(revision)

    def set_traffic(self, target: Target, deployment: str, weights: Mapping[str, int]) -> None:
        if sum(weights.values()) != 100 or any(w < 0 for w in weights.values()):
            raise ProviderError("aws", "set traffic", f"weights must be >= 0 and sum to 100, got {dict(weights)}")
        self._parts(target, deployment)[2].set_traffic(weights)

    def destroy(self, target: Target, deployment: str) -> None:
        names, infra, revs = self._parts(target, deployment)
        lb = infra.load_balancer()
        main = infra.main_listener(infra.listeners(lb["LoadBalancerArn"])) if lb else None
        if main is not None:  # free the target groups before deleting them
            self.client(target).call("elbv2", "modify_listener", ListenerArn=main["ListenerArn"],
                                     DefaultActions=tr.NO_REVISION)
        found = {revision_tags(s)[0] for s in revs.services()} if (not names.owns_cluster or infra.cluster_active()) else set()
        found |= {r.revision for r in self.list_resources(target) if r.deployment == deployment and r.revision}
        for revision in sorted(found):
            revs.delete(revision, drain=False)  # nothing routes to them any more
        infra.destroy()

    def delete_resource(self, target: Target, resource: Resource) -> None:
        if resource.deployment and resource.revision:
            self.delete_revision(target, resource.deployment, resource.revision)
        elif resource.deployment:
            self.destroy(target, resource.deployment)


def _basic_auth(s: AwsSettings):
    if not s.registry_username:
        return None
    from modelport.registry import BasicAuth

    if not s.registry_password_env or s.registry_password_env not in os.environ:
        raise SpecError("", "registry_password_env", "the registry override has a username but its password "
                        "environment variable is not set", hint="export it before deploying")
    return BasicAuth(s.registry_username, os.environ[s.registry_password_env])


def _url(target: Target, lb: dict[str, Any], port: int) -> str:
    return tr.endpoint_url(target.settings, lb["DNSName"], port)


def _weights(listener: dict[str, Any], by_group: Mapping[str, str]) -> dict[str, int]:
    actions = sorted(listener.get("DefaultActions", []), key=lambda a: a.get("Order", 0))
    action = actions[-1] if actions else {}
    if action.get("Type") != "forward":
        return {}
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or \
        [{"TargetGroupArn": action.get("TargetGroupArn"), "Weight": 100}]
    out: dict[str, int] = {}
    for g in groups:
        revision = by_group.get(g["TargetGroupArn"])
        if revision and int(g.get("Weight", 1)):
            out[revision] = out.get(revision, 0) + int(g.get("Weight", 1))
    total = sum(out.values())
    if total and total != 100:  # weights set outside modelport: report them as percents
        out = {k: round(v * 100 / total) for k, v in out.items()}
    return out


def _iso(value) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)
