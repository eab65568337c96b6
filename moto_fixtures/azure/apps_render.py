"""Resource JSON of Microsoft.App resources as GET returns it (shapes of the 2026-07-01 examples
ManagedEnvironments_Get, ContainerApps_Get, Revisions_Get). Secret values are never returned
(spec Secret.value carries x-ms-secret)."""
from __future__ import annotations

import copy

from .apps_model import ContainerApp, Environment, RevisionRecord, app_host, effective_traffic


def environment_json(env: Environment) -> dict:
    """A managed environment."""
    props = copy.deepcopy(env.body.get("properties") or {})
    props.update({
        "provisioningState": env.provisioning_state,
        "defaultDomain": env.default_domain,
        "staticIp": env.static_ip or None,
        "environmentMode": "WorkloadProfiles" if props.get("workloadProfiles") else "ConsumptionOnly",
    })
    return {"id": env.id, "name": env.name, "type": "Microsoft.App/managedEnvironments",
            "location": env.location, "tags": env.body.get("tags") or {}, "properties": props}


def app_json(app: ContainerApp) -> dict:
    """A container app with its read-only status fields (lock held by the caller)."""
    props = copy.deepcopy(app.body["properties"])
    config = props.setdefault("configuration", {})
    config.setdefault("activeRevisionsMode", "Single")
    for secret in config.get("secrets") or []:
        secret.pop("value", None)
    ingress = config.get("ingress")
    if ingress is not None:
        ingress["fqdn"] = app_host(app)
        ingress.setdefault("external", False)
        ingress.setdefault("allowInsecure", False)
        ingress.setdefault("traffic", [{"latestRevision": True, "weight": 100}])
    latest = app.revisions.get((app.latest_revision or "").lower())
    props.update({
        "provisioningState": app.provisioning_state,
        "runningStatus": "Running",
        "managedEnvironmentId": app.environment.id,
        "environmentId": app.environment.id,
        "latestRevisionName": app.latest_revision,
        "latestReadyRevisionName": app.latest_ready(),
        "latestRevisionFqdn": revision_fqdn(app, latest) if latest and ingress else "",
        "outboundIpAddresses": [app.environment.static_ip] if app.environment.static_ip else [],
    })
    return {"id": app.id, "name": app.name, "type": "Microsoft.App/containerApps",
            "location": app.body["location"], "tags": app.body.get("tags") or {},
            "properties": props}


def revision_fqdn(app: ContainerApp, revision: RevisionRecord) -> str:
    """A revision's own host name (Revisions_Get example: "<revision>.<domain>")."""
    return f"{revision.name.lower()}.{app.environment.default_domain}"


def revision_json(app: ContainerApp, revision: RevisionRecord) -> dict:
    """A revision with its traffic weight, state and template (lock held by the caller)."""
    weight = sum(r.get("weight", 0) for r in effective_traffic(app)
                 if (r.get("revisionName") or app.latest_ready() or "").lower() == revision.name.lower())
    props = {
        "createdTime": revision.created, "lastActiveTime": revision.last_active,
        "fqdn": revision_fqdn(app, revision) if app.ingress else "",
        "template": revision.template_copy(), "active": revision.active,
        "replicas": 1 if revision.docker_id else 0, "trafficWeight": weight,
        "healthState": revision.health_state, "provisioningState": revision.provisioning_state,
        "runningState": revision.running_state,
    }
    if revision.error:
        props["provisioningError"] = revision.error
    return {"id": f"{app.id}/revisions/{revision.name}", "name": revision.name,
            "type": "Microsoft.App/containerApps/revisions", "properties": props}
