"""``evaluate``: the validation gate on demand, and the proof that a platform does not change
results. Part of :mod:`modelport.api`, which re-exports it.

The spec's ``[validation] dataset`` is run through a deployed revision (default: the one serving)
on a target: accuracy, agreement with the serving revision (when another revision is evaluated),
failed rows and latency, judged against the spec's thresholds. With ``against``, the same rows
run on another target serving the same image digest, and the largest difference between the two
environments' outputs is reported. Read-only: nothing is journaled or changed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx

from .engine import planner
from .engine import validation as v
from .engine.gatespec import validation_of
from .engine.session import Session
from .errors import NotFound, UsageError


def _api():
    from . import api

    return api


def evaluate(path: str | Path | None, target: str, *, revision: str | None = None, against: str | None = None,
             session: Session | None = None) -> dict[str, Any]:
    """Run the evaluation set of the spec at ``path`` through ``revision`` (default: the serving
    one) of its deployment on ``target``; with ``against``, also through what serves on that
    target (the same digest) and compare. Returns the figures and ``passed`` (the thresholds)."""
    s = _api()._session(session)
    loaded = _api().validate(path, s, sizes=False)
    rules = validation_of(loaded)
    if rules is None:
        raise UsageError(f"{loaded.file}: validation.dataset: evaluate needs an evaluation set",
                         hint='add [validation] with dataset = "eval.jsonl" (JSON Lines of inputs and expected)')
    if against == target:
        raise UsageError("--against names the target evaluated; name another target")
    name, model = loaded.spec.deployment, loaded.spec.model.name
    here = _place(s, loaded, target, name, revision)
    there = _place(s, loaded, against, name, None) if against else None
    if there is not None and there["digest"] != here["digest"]:
        raise UsageError(f"{against} serves image {there['digest']}, not {here['digest']} as {target}'s "
                         f"{here['revision']}: the comparison needs the same image",
                         hint=f"modelport promote {name} {target} {against}")
    with httpx.Client() as client:
        answers = v.run(here["endpoint"], model, here["headers"], rules.rows, client)
        serving = here.pop("serving")
        theirs = v.run(serving["endpoint"], model, serving["headers"], rules.rows, client) if serving else None
        other = v.run(there["endpoint"], model, there["headers"], rules.rows, client) if there else None
    got = v.figures(rules.rows, answers, theirs)
    failed = v.shortfalls(rules, got)
    out = {"deployment": name, "target": target, **_public(here), **got,
           "thresholds": rules.thresholds(), "passed": not failed, "shortfalls": failed}
    if serving:
        out["serving"] = serving["revision"]
    if there is not None:
        out["against"] = {"target": against, **_public(there), **v.figures(rules.rows, other),
                          **difference(answers, other)}
    return out


def _place(s: Session, loaded, target: str, name: str, revision: str | None) -> dict[str, Any]:
    """Where ``revision`` (default: the serving one) of ``name`` answers on ``target``, and the
    serving revision too when it is another one (for agreement)."""
    provider, t = s.target(loaded, target)
    observed = planner.read(s, provider, t, name)
    active = observed.active_revision
    chosen = revision or active
    rev = observed.revision(chosen) if chosen else None
    if rev is None:
        known = ", ".join(r.name for r in observed.revisions) or "none"
        raise NotFound(f"{name} on {target} has no revision {chosen!r} (revisions: {known})" if chosen else
                       f"{name} is not serving on {target}", hint="deploy it first, or name --revision")
    out = {"revision": chosen, "digest": rev.digest, **_reach(provider, t, name, chosen), "serving": None}
    if active and active != chosen:
        out["serving"] = {"revision": active, **_reach(provider, t, name, active)}
    return out


def _reach(provider, t, name: str, revision: str) -> dict[str, Any]:
    health = provider.health(t, name, revision)
    if not health.ready or not health.endpoint:
        raise NotFound(f"revision {revision} of {name} on {t.name} is not ready ({health.message})")
    return {"endpoint": health.endpoint,
            "headers": {**provider.endpoint_headers(t, name), **dict(health.headers)}}


def _public(place: dict[str, Any]) -> dict[str, Any]:
    return {"revision": place["revision"], "digest": place["digest"]}


def difference(ours: list[v.Answer], theirs: list[v.Answer]) -> dict[str, Any]:
    """The largest absolute difference between two environments' outputs, over every output of
    every row (inf where a value is not a number and differs, or a row failed on one side), and
    how many rows answered identically."""
    largest, same = 0.0, 0
    for a, b in zip(ours, theirs):
        gap = _gap(a.outputs, b.outputs)
        largest = max(largest, gap)
        same += gap == 0.0
    return {"max_abs_difference": largest if math.isfinite(largest) else None, "identical_rows": same,
            "rows_compared": len(ours)}


def _gap(a: Any, b: Any) -> float:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return math.inf
        return max((_gap(x, y) for x, y in zip(a, b)), default=0.0)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b))
    return 0.0 if a == b and a is not None else math.inf


def table(result: dict[str, Any]) -> str:
    """``evaluate``'s result for people: one column per environment."""
    cols = [result] + ([result["against"]] if "against" in result else [])
    head = ["", *(f"{c['target']} {c['revision']}" for c in cols)]
    rows = [head, ["rows", *(str(c["rows"]) for c in cols)],
            ["accuracy", *(f"{c['accuracy']:.2%}" for c in cols)],
            ["failed", *(str(c["failed"]) for c in cols)],
            ["p50 ms", *(_num(c["p50_ms"]) for c in cols)], ["p99 ms", *(_num(c["p99_ms"]) for c in cols)]]
    if "agreement" in result:
        rows.insert(3, [f"agreement with {result['serving']}", f"{result['agreement']:.2%}", *([""] * (len(cols) - 1))])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [f"evaluate {result['deployment']}: image {result['digest'][:19]}"]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    if "against" in result:
        a = result["against"]
        gap = "not comparable" if a["max_abs_difference"] is None else f"{a['max_abs_difference']:g}"
        lines.append(f"largest output difference {result['target']} vs {a['target']}: {gap} "
                     f"({a['identical_rows']} of {a['rows_compared']} rows identical)")
    verdict = "passed" if result["passed"] else "FAILED: " + "; ".join(result["shortfalls"])
    limits = ", ".join(f"{k} {val:.2%}" for k, val in result["thresholds"].items()) or "no thresholds"
    lines.append(f"result: {verdict} ({limits})")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
