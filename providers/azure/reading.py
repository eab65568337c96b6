"""Reading container groups (as ``as_dict`` gives them) back into modelport's model (pure, except
:func:`probe_ready`, which asks the revision's own address whether the model is loaded)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from modelport.provider import TAG_CONFIG, TAG_DEPLOYMENT, TAG_DIGEST, TAG_REVISION, Health, Observed, Revision

from .settings import AzureSettings
from .translate import READY_PATH, TAG_ACTIVE, TAG_MODEL_VERSION


def tags(group: Mapping[str, Any]) -> dict[str, str]:
    return dict(group.get("tags") or {})


def of_deployment(groups: Iterable[Mapping[str, Any]], deployment: str) -> list[dict[str, Any]]:
    """The groups tagged with ``deployment``."""
    return [dict(g) for g in groups if tags(g).get(TAG_DEPLOYMENT) == deployment]


def find(groups: Iterable[Mapping[str, Any]], revision: str) -> dict[str, Any] | None:
    """The group holding modelport revision ``revision`` (by tag: in-place updates keep the name)."""
    return next((dict(g) for g in groups if tags(g).get(TAG_REVISION) == revision), None)


def active_marker(group: Mapping[str, Any]) -> int:
    """The group's traffic marker (0 = none)."""
    value = tags(group).get(TAG_ACTIVE, "")
    return int(value) if value.isdigit() else 0


def active(groups: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The group with the highest traffic marker: the one serving the deployment."""
    marked = [g for g in groups if active_marker(g)]
    return dict(max(marked, key=active_marker)) if marked else None


def endpoint(group: Mapping[str, Any], settings: AzureSettings) -> str | None:
    """http://<fqdn or ip>:<port> of a group, or None while it has no address."""
    ip = group.get("ip_address") or {}
    host = ip.get("fqdn") if settings.endpoint_host == "fqdn" and not settings.subnet_id else None
    host = host or ip.get("ip")
    ports = ip.get("ports") or []
    if not host or not ports:
        return None
    return f"http://{host}:{ports[0]['port']}"


def container_state(group: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(state, the container's instance view) of the group's one container."""
    containers = group.get("containers") or [{}]
    view = containers[0].get("instance_view") or {}
    return ((view.get("current_state") or {}).get("state") or "Waiting"), view


def running(group: Mapping[str, Any]) -> bool:
    state, _ = container_state(group)
    return group.get("provisioning_state") == "Succeeded" and state == "Running"


def to_revision(group: Mapping[str, Any], settings: AzureSettings) -> Revision:
    t = tags(group)
    return Revision(t.get(TAG_REVISION, group.get("name", "")), t.get(TAG_DIGEST, ""), t.get(TAG_CONFIG, ""),
                    running(group), endpoint(group, settings),
                    extra={"group": group.get("name"), "model_version": t.get(TAG_MODEL_VERSION),
                           "state": (group.get("instance_view") or {}).get("state")})


def observed(groups: list[dict[str, Any]], deployment: str, settings: AzureSettings) -> Observed:
    """Revisions, the 100% traffic of the active group, and its endpoint."""
    mine = of_deployment(groups, deployment)
    if not mine:
        return Observed(deployment)
    revisions = tuple(sorted((to_revision(g, settings) for g in mine), key=lambda r: _num(r.name)))
    serving = active(mine)
    traffic = {tags(serving)[TAG_REVISION]: 100} if serving else {}
    return Observed(deployment, revisions, traffic, endpoint(serving, settings) if serving else None,
                    extra={"groups": sorted(g["name"] for g in mine)})


def failure(group: Mapping[str, Any]) -> str | None:
    """Why a group cannot become ready (waiting longer will not help), or None."""
    if group.get("provisioning_state") == "Failed":
        events = (group.get("instance_view") or {}).get("events") or []
        detail = next((e.get("message") for e in reversed(events) if e.get("type") == "Warning"), None)
        return "the container group failed to provision" + (f": {detail}" if detail else "")
    state, view = container_state(group)
    current = view.get("current_state") or {}
    if state == "Terminated" and (group.get("restart_policy") in ("Never", "OnFailure") or view.get("restart_count", 0) >= 3):
        return f"the container exited with code {current.get('exit_code')} ({current.get('detail_status')})"
    if view.get("restart_count", 0) >= 3 and state != "Running":
        return f"the container keeps restarting ({view.get('restart_count')} restarts)"
    return None


def probe_ready(address: str) -> tuple[bool, str]:
    """Does the model server at ``address`` answer its readiness endpoint?"""
    import httpx

    try:
        answer = httpx.get(f"{address}{READY_PATH}", timeout=3)
    except httpx.HTTPError as exc:
        return False, f"not answering yet ({type(exc).__name__})"
    return answer.status_code == 200, f"{READY_PATH} answered {answer.status_code}"


def health(group: Mapping[str, Any] | None, revision: str, settings: AzureSettings) -> Health:
    """Readiness of one revision's group (its own address is where a smoke request reaches it)."""
    if group is None:
        return Health(False, f"revision {revision} has no container group", failed=True)
    address = endpoint(group, settings)
    why = failure(group)
    if why:
        return Health(False, why, address, failed=True)
    if not running(group) or not address:
        state, _ = container_state(group)
        return Health(False, f"group {group.get('provisioning_state')}, container {state}", address)
    ok, message = probe_ready(address)
    return Health(ok, message, address)


def _num(name: str) -> int:
    return int(name[1:]) if name[1:].isdigit() else 0
