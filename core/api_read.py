"""Reading deployments: status (as the clouds report it, readiness checked on the revision's own
route), predictions, logs and history. Part of :mod:`modelport.api`, which re-exports these."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .engine import executor, planner
from .engine.gate import infer
from .engine.session import Session
from .errors import NotFound

def _api():
    """:mod:`modelport.api` (imported when called: it imports this module to re-export it)."""
    from . import api

    return api


def status(name: str | None = None, target: str | None = None, *, spec: str | Path | None = None,
           session: Session | None = None) -> list[dict[str, Any]]:
    """Deployments with what their clouds report now (revisions, traffic, endpoint, readiness).
    A deployment with an interrupted operation has an ``unfinished`` entry (message and hint);
    with ``name`` and nothing recorded yet, that operation raises UnfinishedOperation."""
    s = _api()._session(session)
    rows = s.state.deployments(name, target)
    if name and not rows and not spec:
        op = s.state.unfinished(name)
        if op is not None:  # e.g. a first deploy killed before it recorded anything
            raise executor.interrupted(op)
        raise NotFound(f"no deployment {name!r}" + (f" on {target!r}" if target else ""))
    out = []
    for row in rows:
        loaded = _api().validate(spec or row["spec_file"], s, sizes=False)  # deployed: sizes were checked
        provider, t = s.target(loaded, row["target"])
        observed = planner.read(s, provider, t, row["name"])
        out.append({"name": row["name"], "target": row["target"], "provider": provider.name,
                    "endpoint": observed.endpoint, "traffic": dict(observed.traffic),
                    "revisions": [{"name": r.name, "digest": r.digest, **_readiness(s, provider, t, row["name"], r),
                                   "endpoint": r.endpoint, **({"model_version": r.extra.get("model_version")}
                                                              if r.extra.get("model_version") else {})}
                                  for r in observed.revisions],
                    "recorded": {"revision": row["revision"], "digest": row["digest"]},
                    "drift": _drift(row, observed)})
        op = s.state.unfinished(row["name"])
        if op is not None:
            error = executor.interrupted(op)
            out[-1]["unfinished"] = {**op.to_dict(), **error.details, "message": error.message, "hint": error.hint}
    return out


READY_ROUTE = "/v2/health/ready"  # the OIP readiness route every modelport image serves


def _readiness(s: Session, provider, target, name: str, rev) -> dict[str, Any]:
    """``ready`` only when the cloud says so and the revision answers its readiness route (a
    cloud may report a revision ready whose model is not loaded, or no longer is); the cloud's
    own word is ``cloud_ready``, the route's answer ``ready_route`` (its HTTP status, or None)."""
    import httpx

    out = {"ready": False, "cloud_ready": rev.ready, "ready_route": None}
    if not rev.ready:
        return out
    try:
        health = provider.health(target, name, rev.name)
        if not health.endpoint:
            return out
        reply = httpx.get(f"{health.endpoint.rstrip('/')}{READY_ROUTE}", headers=dict(health.headers), timeout=5)
        out["ready_route"] = reply.status_code
    except Exception as exc:  # unreachable, or the cloud's health read failed: not known to be ready
        from .redact import redact

        out["ready_error"] = redact(f"{type(exc).__name__}: {exc}"[:200])
        return out
    out["ready"] = out["ready_route"] == 200
    return out


def _drift(row: dict, observed) -> list[str]:
    problems = []
    if not observed.revisions:
        problems.append("the cloud reports no revision for this deployment")
    elif row["revision"] and observed.traffic.get(row["revision"]) != 100 and row["traffic"] != dict(observed.traffic):
        problems.append(f"traffic is {dict(observed.traffic)}, recorded {row['traffic']}")
    return problems


def predict(name: str, target: str, body: dict[str, Any], *, session: Session | None = None) -> dict[str, Any]:
    """Send an OIP v2 infer request to the deployment's endpoint."""
    s = _api()._session(session)
    rows = s.state.deployments(name, target)
    if not rows:
        raise NotFound(f"no deployment {name!r} on {target!r}")
    loaded = _api().validate(rows[0]["spec_file"], s, sizes=False)
    provider, t = s.target(loaded, target)
    endpoint = planner.read(s, provider, t, name).endpoint
    if not endpoint:
        raise NotFound(f"{name} on {target} has no endpoint (is it serving?)")
    return infer(endpoint, loaded.spec.model.name, body, provider.endpoint_headers(t, name))


def history(name: str, session: Session | None = None, *, operation: int | None = None,
            target: str | None = None, since: float | None = None, until: float | None = None) -> dict[str, Any]:
    """Every operation, revision, digest and traffic change of ``name``, oldest first, as plain
    JSON data (no JSON text inside): each operation with its duration, its build time
    (``build_seconds``, for a deploy that built) and each step's duration. Filters: one
    ``operation`` id, one ``target``, a time window ``since``/``until`` (Unix seconds)."""
    from .history import history_of

    return history_of(_api()._session(session).state, name, operation=operation, target=target, since=since,
                      until=until)


def logs(name: str, target: str, *, revision: str | None = None, tail: int = 100,
         session: Session | None = None) -> str:
    """Recent log lines of the serving (or named) revision."""
    s = _api()._session(session)
    loaded = _api()._spec_for(s, name, target, None)
    provider, t = s.target(loaded, target)
    return provider.logs(t, name, revision, tail)
