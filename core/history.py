"""A deployment's history for machines: operations with their durations and build time, each
step's duration, revisions and events, all plain JSON data, filtered by operation, target, time."""

from __future__ import annotations

import json
from typing import Any

from .errors import NotFound
from .state import StateStore


def history_of(state: StateStore, name: str, *, operation: int | None = None, target: str | None = None,
               since: float | None = None, until: float | None = None) -> dict[str, Any]:
    """See :func:`modelport.api.history`."""
    ops, events = state.operations(name), state.events(name)
    if not ops and not events:
        raise NotFound(f"no history for {name!r}", deployment=name)

    def when(ts: float | None) -> bool:
        return ts is not None and (since is None or ts >= since) and (until is None or ts <= until)

    events = [e for e in events if when(e["ts"]) and (operation is None or e["operation"] == operation)
              and (target is None or e["target"] in (target, None))]
    ops = [o for o in ops if (operation is None or o.id == operation) and (target is None or target in o.targets)
           and when(o.started)]
    revisions = [_revision(r) for r in state.revisions(name, target) if when(r["created"])]
    return {"name": name, "filters": {"operation": operation, "target": target, "since": since, "until": until},
            "operations": [_operation(o, events) for o in ops], "revisions": revisions, "events": events}


def _operation(op, events: list[dict[str, Any]]) -> dict[str, Any]:
    steps = [{"index": e["data"].get("step"), "step": e["kind"], "target": e["target"], "desc": e["message"],
              "duration": e["data"]["duration"]} for e in events
             if e["operation"] == op.id and isinstance(e["data"], dict) and "duration" in e["data"]]
    return {**op.to_dict(), "duration": round(op.finished - op.started, 3) if op.finished else None,
            "build_seconds": op.context.get("build_seconds"), "step_durations": steps}


def _revision(row: dict[str, Any]) -> dict[str, Any]:
    """A revision row with its recorded spec as data, not text."""
    out = dict(row)
    if isinstance(out.get("spec"), str):
        try:
            out["spec"] = json.loads(out["spec"])
        except ValueError:
            pass  # a row written by hand: keep what is there
    return out
