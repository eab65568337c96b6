"""The validation gate: the evaluation set through a new revision before any traffic moves to it.

Each row of ``[validation] dataset`` is sent to the revision's own endpoint; its first output
must equal the row's ``expected`` (numbers within a relative 1e-6) for ``min_accuracy``, and the
serving revision's answer to the same row for ``min_agreement``. A revision below either
threshold is refused with the figures (the operation is undone, so the revision is removed and
nothing moved). ``modelport evaluate`` runs the same on demand.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import httpx

from ..dataset import Row, flat
from ..errors import HealthGateFailed
from .analysis import Watched, baseline_revision, quantile, watched
from .gate import same_outputs

if TYPE_CHECKING:
    from ..provider import Provider, Target
    from .executor import ExecutionContext


@dataclass(frozen=True)
class Validation:
    """``[validation]``: the evaluation rows and the thresholds (None: not checked)."""

    rows: tuple[Row, ...]
    min_accuracy: float | None = None
    min_agreement: float | None = None

    def thresholds(self) -> dict[str, float]:
        """What a revision is held to (the ``expected`` of a refusal)."""
        out = {"min_accuracy": self.min_accuracy, "min_agreement": self.min_agreement}
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class Answer:
    """A revision's answer to one row: the first output's values (None: no good answer) and the
    whole reply's outputs, with the time it took."""

    values: list[Any] | None
    outputs: list[Any] | None
    seconds: float


def ask(endpoint: str, model: str, headers: Mapping[str, str], row: Row, client: httpx.Client) -> Answer:
    """Send one evaluation row; a failed request is an answer without values."""
    t0 = time.perf_counter()
    try:
        reply = client.post(f"{endpoint.rstrip('/')}/v2/models/{model}/infer", content=json.dumps(row.body),
                            headers={"content-type": "application/json", **headers}, timeout=30)
        outputs = reply.json().get("outputs") if reply.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        outputs = None
    values = flat(outputs[0].get("data")) if outputs else None
    return Answer(values, [o.get("data") for o in outputs] if outputs else None, time.perf_counter() - t0)


def run(endpoint: str, model: str, headers: Mapping[str, str], rows: tuple[Row, ...],
        client: httpx.Client) -> list[Answer]:
    """Every row through the revision at ``endpoint``, in order."""
    return [ask(endpoint, model, headers, row, client) for row in rows]


def figures(rows: tuple[Row, ...], answers: list[Answer], baseline: list[Answer] | None = None) -> dict[str, Any]:
    """Accuracy, agreement (with ``baseline``'s answers), failed rows and latency of ``answers``."""
    right = sum(a.values is not None and same_outputs(a.values, flat(r.expected)) for r, a in zip(rows, answers))
    seconds = [a.seconds for a in answers]
    out: dict[str, Any] = {"rows": len(rows), "accuracy": round(right / len(rows), 4),
                           "failed": sum(a.values is None for a in answers),
                           "p50_ms": _ms(quantile(seconds, 0.5)), "p99_ms": _ms(quantile(seconds, 0.99))}
    if baseline is not None:
        agree = sum(a.values is not None and b.values is not None and same_outputs(a.values, b.values)
                    for a, b in zip(answers, baseline))
        out["agreement"] = round(agree / len(rows), 4)
    return out


def shortfalls(v: Validation, got: Mapping[str, Any]) -> list[str]:
    """The thresholds ``got`` falls below, as words."""
    out = []
    if v.min_accuracy is not None and got["accuracy"] < v.min_accuracy:
        out.append(f"accuracy {got['accuracy']:.2%} is below min_accuracy {v.min_accuracy:.2%}")
    if v.min_agreement is not None and got.get("agreement") is not None and got["agreement"] < v.min_agreement:
        out.append(f"agreement with the serving version {got['agreement']:.2%} is below min_agreement "
                   f"{v.min_agreement:.2%}")
    return out


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def gate(ctx: ExecutionContext, provider: Provider, target: Target, deployment: str, revision: str) -> dict[str, Any]:
    """The validation gate of ``revision``: raise :class:`HealthGateFailed` with the figures when
    it falls below a threshold; the figures are journaled either way."""
    v: Validation = ctx.validation
    new = watched(ctx, provider, target, deployment, revision)
    if not new.endpoint:
        raise HealthGateFailed(f"revision {revision} on {target.name} reports no endpoint to validate")
    base = _serving(ctx, provider, target, deployment, revision) if v.min_agreement is not None else None
    with httpx.Client() as client:
        answers = run(new.endpoint, ctx.smoke.model, new.headers, v.rows, client)
        theirs = run(base.endpoint, ctx.smoke.model, base.headers, v.rows, client) if base else None
    got = {"revision": revision, **figures(v.rows, answers, theirs)}
    if base is not None:
        got["serving"] = base.revision
    failed = shortfalls(v, got)
    verdict = "refused: " + "; ".join(failed) if failed else "passed"
    ctx.state.add_event(deployment, "validation", f"validation of {revision} {verdict} ({got['rows']} rows, "
                        f"accuracy {got['accuracy']:.2%})", target=target.name, operation=ctx.operation,
                        data=got)
    if failed:
        raise HealthGateFailed(f"validation of {revision} on {target.name} refused the version: {'; '.join(failed)}",
                               hint="no traffic moved; check the model against the evaluation set "
                                    "(modelport evaluate)", check="validation", expected=v.thresholds(), actual=got)
    return got


def _serving(ctx: ExecutionContext, provider: Provider, target: Target, deployment: str,
             revision: str) -> Watched | None:
    name = baseline_revision(ctx, provider, target, deployment, revision)
    if name is None:
        return None
    base = watched(ctx, provider, target, deployment, name)
    return base if base.endpoint else None
