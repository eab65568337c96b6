"""Cloud Run replies -> modelport's neutral values (pure; reads the labels written by translate).

Everything ``observe`` reports comes from here: revisions from their labels, annotations and
image reference; traffic from the service's ``traffic_statuses`` (what actually serves).
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import urlsplit

from modelport.provider import Health, Observed, Revision

from .translate import (A_DIGEST, A_MODEL, A_VERSION, L_CONFIG, L_DEPLOYMENT, L_REVISION,
                        modelport_revision)

READY, FAILED = "CONDITION_SUCCEEDED", "CONDITION_FAILED"

#: Revision fields that are RevisionTemplate fields under the same name (the v2 protos:
#: revision_template.proto RevisionTemplate vs. revision.proto Revision); ``scaling`` is narrowed
#: to the template's RevisionScaling fields below.
TEMPLATE_FIELDS = ("labels", "annotations", "scaling", "vpc_access", "timeout", "service_account",
                   "containers", "volumes", "execution_environment", "encryption_key",
                   "max_instance_request_concurrency", "service_mesh", "encryption_key_revocation_action",
                   "encryption_key_shutdown_duration", "session_affinity", "node_selector",
                   "gpu_zonal_redundancy_disabled")
#: label and annotation namespaces the v2 API refuses in a template (revision_template.proto)
SYSTEM_PREFIXES = ("run.googleapis.com", "cloud.googleapis.com", "serving.knative.dev", "autoscaling.knative.dev")


def _kind(cond: Mapping[str, Any]) -> str | None:
    return cond.get("type_", cond.get("type"))  # proto-plus renames the field "type" to "type_"


def condition(resource: Mapping[str, Any], kind: str = "Ready") -> Mapping[str, Any]:
    """A named condition of a revision (or the service's terminal condition)."""
    terminal = resource.get("terminal_condition") or {}
    if kind == "Ready" and _kind(terminal) == "Ready":
        return terminal
    return next((c for c in resource.get("conditions") or [] if _kind(c) == kind), {})


def image_digest(revision: Mapping[str, Any]) -> str:
    """The manifest digest in the container image reference (``...@sha256:<hex>``)."""
    containers = revision.get("containers") or [{}]
    image = containers[0].get("image", "")
    if "@" in image:
        return image.rsplit("@", 1)[1]
    return (revision.get("annotations") or {}).get(A_DIGEST, "")


def tag_uris(service: Mapping[str, Any]) -> dict[str, str]:
    """Tag -> tag URL, as the service reports it (empty when the API gives no tag URLs)."""
    return {s["tag"]: s["uri"] for s in service.get("traffic_statuses") or []
            if s.get("tag") and s.get("uri")}


def to_revision(data: Mapping[str, Any], deployment: str, uris: Mapping[str, str]) -> Revision:
    """A modelport Revision from a Cloud Run Revision."""
    labels = data.get("labels") or {}
    annotations = data.get("annotations") or {}
    name = labels.get(L_REVISION) or modelport_revision(data["name"], deployment)
    ready = condition(data).get("state") == READY
    return Revision(name=name, digest=image_digest(data), config=labels.get(L_CONFIG, ""), ready=ready,
                    endpoint=uris.get(name), created=data.get("create_time") or None,
                    extra={"cloud_name": data["name"].rsplit("/", 1)[-1],
                           "model": annotations.get(A_MODEL), "model_version": annotations.get(A_VERSION),
                           "image": (data.get("containers") or [{}])[0].get("image")})


def traffic_of(service: Mapping[str, Any], deployment: str) -> dict[str, int]:
    """rN -> percent actually serving (revisions with 0% are left out)."""
    out: dict[str, int] = {}
    for status in service.get("traffic_statuses") or []:
        name = status.get("revision")
        if name and status.get("percent"):
            key = modelport_revision(name, deployment)
            out[key] = out.get(key, 0) + int(status["percent"])
    return out


def tagged(service: Mapping[str, Any], deployment: str) -> set[str]:
    """Revisions (rN) that the traffic spec names with a tag."""
    return {modelport_revision(t["revision"], deployment) for t in service.get("traffic") or []
            if t.get("revision") and t.get("tag")}


def spec_weights(service: Mapping[str, Any], deployment: str) -> dict[str, int]:
    """rN -> percent in the traffic spec (what was asked for)."""
    return {modelport_revision(t["revision"], deployment): int(t.get("percent") or 0)
            for t in service.get("traffic") or [] if t.get("revision") and t.get("percent")}


def observed(service: Mapping[str, Any] | None, revisions: list[Mapping[str, Any]],
             deployment: str) -> Observed:
    """The Observed value of a deployment's service (None: no service)."""
    if service is None:
        return Observed(deployment)
    uris = tag_uris(service)
    mine = [r for r in revisions if (r.get("labels") or {}).get(L_DEPLOYMENT) == deployment]
    revs = tuple(sorted((to_revision(r, deployment, uris) for r in mine), key=lambda r: r.created or ""))
    traffic = traffic_of(service, deployment)
    endpoint = service.get("uri") or None
    ready = condition(service)
    return Observed(deployment, revs, traffic, endpoint if traffic else None,
                    infrastructure=(f"cloud-run-service {service['name'].rsplit('/', 1)[-1]}",),
                    extra={"service": service["name"], "uri": service.get("uri"),
                           "ready": ready.get("state") == READY, "message": ready.get("message", ""),
                           "ingress": service.get("ingress"), "generation": service.get("generation")})


def revision_health(revision: Mapping[str, Any] | None, service: Mapping[str, Any], name: str) -> Health:
    """Readiness of one revision and where a smoke request reaches it: its tag URL when the API
    reports one, else the service URL with the tag host (``<tag>---<service host>``) as Host."""
    if revision is None:
        return Health(False, f"revision {name} does not exist", failed=True)
    ready = condition(revision)
    state = ready.get("state")
    endpoint, headers = revision_endpoint(service, name)
    if state == FAILED:
        return Health(False, ready.get("message") or "the revision failed", endpoint, headers, failed=True)
    if state != READY:
        return Health(False, ready.get("message") or "the revision is not ready yet", endpoint, headers)
    if endpoint is None:
        return Health(False, f"revision {name} has no tag URL yet", None)
    return Health(True, "Ready", endpoint, headers)


def revision_endpoint(service: Mapping[str, Any], tag: str) -> tuple[str | None, dict[str, str]]:
    """(URL, headers) reaching one tagged revision."""
    uri = tag_uris(service).get(tag)
    if uri:
        return uri, {}
    if tag not in {t.get("tag") for t in service.get("traffic_statuses") or []} or not service.get("uri"):
        return None, {}
    host = urlsplit(service["uri"]).netloc
    return service["uri"], {"Host": f"{tag}---{host}"}


def short_name(name: str) -> str:
    """The revision id of a full revision name."""
    return name.rsplit("/", 1)[-1]


def _user_keys(values: Mapping[str, str] | None) -> dict[str, str]:
    def system(key: str) -> bool:
        prefix = key.rpartition("/")[0]
        return any(prefix == p or prefix.endswith("." + p) for p in SYSTEM_PREFIXES)
    return {k: v for k, v in (values or {}).items() if not system(k)}


def template_of(revision: Mapping[str, Any]) -> dict[str, Any]:
    """The RevisionTemplate that made ``revision``, named after it: sent back as the service's
    template, Cloud Run adopts the existing revision instead of creating one (an existing name
    with the same configuration; another configuration would be a 409)."""
    out: dict[str, Any] = {"revision": short_name(revision["name"])}
    for key in TEMPLATE_FIELDS:
        if revision.get(key) not in (None, "", [], {}):
            out[key] = revision[key]
    if "scaling" in out:
        out["scaling"] = {k: v for k, v in out["scaling"].items() if k in ("min_instance_count", "max_instance_count")}
    for key in ("labels", "annotations"):
        if key in out:
            out[key] = _user_keys(out[key])
    return out


def successor(service: Mapping[str, Any], revisions: list[Mapping[str, Any]], leaving: str) -> Mapping[str, Any] | None:
    """The revision the service's template should stand for once ``leaving`` (a full name) is
    gone: the one serving the most traffic, then a ready one, then the newest."""
    share: dict[str, int] = {}
    for status in service.get("traffic_statuses") or []:
        if status.get("revision"):
            key = short_name(status["revision"])
            share[key] = share.get(key, 0) + int(status.get("percent") or 0)
    others = [r for r in revisions if r["name"] != leaving]
    if not others:
        return None
    return max(others, key=lambda r: (share.get(short_name(r["name"]), 0), condition(r).get("state") == READY,
                                      r.get("create_time") or ""))
