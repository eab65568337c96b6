"""Reading a revision's state from Swarm: services -> Revision values, tasks -> readiness.

Pure functions over the Docker API's JSON, so they are tested without an engine.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from modelport.provider import TAG_CONFIG, TAG_DEPLOYMENT, TAG_DIGEST, TAG_REVISION, Resource, Revision

from .translate import L_ACTIVE, L_ADDRESS, L_MODEL_VERSION, L_PORT

# task errors after which waiting cannot help: the image is not there and cannot be pulled
IMAGE_ERRORS = ("no such image", "manifest unknown", "pull access denied", "repository does not exist",
                "not found: manifest")
FAILED_STATES = ("failed", "rejected")
#: failed tasks of one revision (since its service last changed) after which it counts as failed
FAILURES_BEFORE_GIVING_UP = 2


def labels(service: Mapping[str, Any]) -> dict[str, str]:
    return dict(service["Spec"].get("Labels") or {})


def endpoint(service: Mapping[str, Any], host_for) -> str | None:
    """``http://host:port`` where the revision's tasks listen (``host_for(address)`` -> host)."""
    lab = labels(service)
    if L_ADDRESS not in lab or L_PORT not in lab:
        return None
    return f"http://{host_for(lab[L_ADDRESS])}:{lab[L_PORT]}"


def running(service: Mapping[str, Any]) -> tuple[int, int]:
    """(running, desired) task counts as the manager reports them (healthy tasks only)."""
    status = service.get("ServiceStatus") or {}
    return int(status.get("RunningTasks") or 0), int(status.get("DesiredTasks") or 0)


def to_revision(service: Mapping[str, Any], host_for) -> Revision:
    lab = labels(service)
    run, want = running(service)
    return Revision(name=lab[TAG_REVISION], digest=lab.get(TAG_DIGEST, ""), config=lab.get(TAG_CONFIG, ""),
                    ready=run > 0, endpoint=endpoint(service, host_for), created=service.get("CreatedAt"),
                    extra={"service": service["Spec"]["Name"],
                           "tasks": f"{run}/{want}", "model_version": lab.get(L_MODEL_VERSION),
                           "image": service["Spec"]["TaskTemplate"]["ContainerSpec"].get("Image")})


def to_resource(service: Mapping[str, Any]) -> Resource:
    lab = labels(service)
    run, want = running(service)
    return Resource("service", service["Spec"]["Name"], lab.get(TAG_DEPLOYMENT), lab.get(TAG_REVISION),
                    lab.get(TAG_DIGEST), {"id": service["ID"], "tasks": f"{run}/{want}",
                                          "active": L_ACTIVE in lab})


def active(services: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The service marked as receiving traffic (the latest mark wins while a move is half done)."""
    marked = [s for s in services if labels(s).get(L_ACTIVE)]
    return max(marked, key=lambda s: labels(s)[L_ACTIVE]) if marked else None


def task_problem(tasks: list[Mapping[str, Any]], revision: str, since: str | None) -> tuple[bool, str]:
    """``(failed, message)`` about the revision's tasks: failed when its image cannot be had or
    its tasks failed repeatedly since ``since`` (the service's last change)."""
    mine = [t for t in tasks if task_revision(t) == revision]
    if not mine:
        return False, "no task scheduled yet"
    latest = max(mine, key=lambda t: _time(t.get("CreatedAt")))
    state, err = latest["Status"].get("State", "?"), latest["Status"].get("Err") or ""
    bad = [t for t in mine if t["Status"].get("State") in FAILED_STATES and _time(t.get("CreatedAt")) >= _time(since)]
    if bad and any(word in (t["Status"].get("Err") or "").lower() for t in bad for word in IMAGE_ERRORS):
        return True, f"task {state}: {err or bad[-1]['Status'].get('Err')}"
    if len(bad) >= FAILURES_BEFORE_GIVING_UP:
        last = max(bad, key=lambda t: _time(t.get("CreatedAt")))["Status"]
        return True, f"{len(bad)} tasks failed; last: {last.get('State')}: {last.get('Err') or last.get('Message')}"
    detail = f": {err}" if err else (f" ({latest['Status'].get('Message')})" if latest["Status"].get("Message") else "")
    return False, f"task {state}{detail}"


def task_revision(task: Mapping[str, Any]) -> str | None:
    spec = task.get("Spec", {}).get("ContainerSpec", {})
    return (spec.get("Labels") or {}).get(TAG_REVISION)


def _time(value: str | None) -> datetime:
    """Docker's RFC 3339 times (nanoseconds, trailing zeros trimmed) as datetimes."""
    if not value:
        return datetime.min.replace(tzinfo=timezone.utc)
    main, _, rest = value.rstrip("Z").partition(".")
    fraction = (rest + "000000")[:6]
    return datetime.fromisoformat(f"{main}.{fraction}+00:00")
