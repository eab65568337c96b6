"""The bake of an analysis gate: load, figures, verdict (the rules are in :mod:`.analysis`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Mapping

import httpx

from ..dataset import flat
from ..errors import HealthGateFailed
from . import analysis as an
from . import gate as gates

if TYPE_CHECKING:
    from ..provider import Provider, Target
    from .executor import ExecutionContext


def bake(ctx: ExecutionContext, provider: Provider, target: Target, deployment: str, revision: str,
         weights: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Watch ``revision`` for the bake time under the gate's load: sent to the revision itself, or
    (with ``weights``, a canary step's split) to the deployment's endpoint, where the revision
    gets its share. Raise :class:`HealthGateFailed` at the first certain breach; return the
    figures when it passes. Either way the figures are journaled."""
    a: an.Analysis = ctx.analysis
    new = an.watched(ctx, provider, target, deployment, revision)
    split = weights is not None and any(k != revision and v for k, v in weights.items())
    share = (weights or {}).get(revision, 100) / 100 if split else 1.0
    if split:
        dest, headers = gates.wait_endpoint(ctx, provider, target, deployment), provider.endpoint_headers(target, deployment)
    else:
        dest, headers = new.endpoint, new.headers
    if not dest:
        raise HealthGateFailed(f"revision {revision} on {target.name} reports no endpoint to analyse")
    mine = _attribution(ctx, deployment, target, revision, weights if split else None)
    base = _baseline(ctx, provider, target, deployment, revision) if a.max_p99_ratio is not None else None
    with httpx.Client() as client:
        new.first = new.read(client)
        senders = [an.LoadSender(dest, ctx.smoke.model, a.bodies, headers, a.load, an.Window(), _judge(ctx), _timeout(a))]
        if base is not None and base.endpoint:
            senders.append(an.LoadSender(base.endpoint, ctx.smoke.model, a.bodies, base.headers, a.load, an.Window(),
                                         _judge(ctx), _timeout(a)))
        try:
            for sender in senders:
                sender.start()
            figures = _watch(ctx, deployment, target, revision, new, senders[0].window, mine, a.load * a.bake * share,
                             client)
            if split:  # what the gate sent through the split, of which ``gate`` counts the revision's share
                figures["share"], figures["sent"] = share, len(senders[0].window.samples())
        finally:
            for sender in senders:
                sender.stop()
            for sender in senders:
                sender.close()
        _ratio(a, figures, senders, base, mine)
    _journal(ctx, deployment, target, revision, figures)
    if figures.get("breach"):
        raise HealthGateFailed(f"analysis of {revision} on {target.name} failed: {figures['breach']}",
                               hint="traffic stays on the serving version; fix the model or adjust "
                                    "[rollout.analysis]", check="analysis", expected=a.thresholds(), actual=figures)
    return figures


def _watch(ctx: ExecutionContext, deployment: str, target: Target, revision: str, new: an.Watched,
           window: an.Window, mine, expected: float, client: httpx.Client) -> dict[str, Any]:
    """Look at the figures every tick until the bake ends or a threshold is certainly breached."""
    a: an.Analysis = ctx.analysis
    start = time.monotonic()
    end, every = start + a.bake, max(1.0, a.bake / 12)
    said = read_at = start
    seen, reason = None, None
    while reason is None:
        now = time.monotonic()
        final = now >= end
        samples = window.samples(mine)
        if new.first is not None and (final or now - read_at >= an.METRICS_EVERY):
            seen, read_at = new.since_start(client) or seen, now
        reason = an.breach(a, samples, expected, final) or (
            an.metrics_breach(a, seen, expected, final) if seen is not None else None)
        if final:
            break
        if now - said >= every:
            an.progress(ctx, deployment, target.name, revision, an.own_figures(samples), end - now)
            said = now
        time.sleep(an.TICK)
    if new.first is not None:  # the figures show the counters as the verdict falls, even before the first read
        seen = new.since_start(client) or seen
    figures = {"revision": revision, "window_s": round(time.monotonic() - start, 1),
               "gate": an.own_figures(window.samples(mine)), "metrics": _metrics_figures(seen)}
    an.progress(ctx, deployment, target.name, revision, figures["gate"], end - time.monotonic())
    if reason:
        figures["breach"] = reason
    return figures


def _metrics_figures(seen) -> dict[str, Any] | None:
    if seen is None:
        return None
    p99 = seen.quantile(0.99)
    return {"requests": int(seen.requests), "errors": int(seen.errors),
            "error_rate": round(seen.errors / seen.requests, 4) if seen.requests else 0.0,
            "p99_ms": None if p99 is None else round(p99 * 1000, 1)}


def _ratio(a: an.Analysis, figures: dict[str, Any], senders: list[an.LoadSender], base: an.Watched | None,
           mine) -> None:
    """``max_p99_ratio``: the new p99 over the serving revision's, same window, same load."""
    if a.max_p99_ratio is None or base is None or len(senders) < 2 or figures.get("breach"):
        return
    new_p99 = an.quantile([s.seconds for s in senders[0].window.samples(mine)], 0.99)
    base_p99 = an.quantile([s.seconds for s in senders[1].window.samples()], 0.99)
    if new_p99 is None or base_p99 is None:
        return
    ratio = round(max(new_p99, an.P99_FLOOR_S) / max(base_p99, an.P99_FLOOR_S), 2)
    figures["baseline"] = {"revision": base.revision, "p99_ms": round(base_p99 * 1000, 1)}
    figures["p99_ratio"] = ratio
    if ratio > a.max_p99_ratio:
        figures["breach"] = (f"p99 {new_p99 * 1000:.1f} ms is {ratio:g}x the serving {base.revision}'s "
                             f"{base_p99 * 1000:.1f} ms, beyond max_p99_ratio {a.max_p99_ratio:g}")


def _attribution(ctx: ExecutionContext, deployment: str, target: Target, revision: str,
                 weights: Mapping[str, int] | None):
    """Which of the gate's requests count for ``revision``: all of those sent to it; through a
    split, those its model version answered, and every failure (it is the revision on trial).
    When another revision in the split serves the same model version, answers cannot be told
    apart and all count."""
    if not weights:
        return lambda _s: True
    versions = gates.versions_of(ctx, deployment, target, weights)
    version = versions.get(revision)
    if version is None or version in {v for r, v in versions.items() if r != revision}:
        return lambda _s: True
    return lambda s: s.version == version or not s.ok


def _baseline(ctx: ExecutionContext, provider: Provider, target: Target, deployment: str,
              revision: str) -> an.Watched | None:
    name = an.baseline_revision(ctx, provider, target, deployment, revision)
    return an.watched(ctx, provider, target, deployment, name) if name else None


def _judge(ctx: ExecutionContext):
    """Whether an answer to body ``index`` is right-shaped (a wrong shape counts as a failure)."""
    a: an.Analysis = ctx.analysis

    def judge(index: int, reply: dict[str, Any]) -> bool:
        outputs = reply.get("outputs") or []
        if not outputs:
            return False
        size = a.sizes[index] if index < len(a.sizes) else None
        if size is not None:
            return len(flat(outputs[0].get("data"))) == size
        try:
            gates.check_shape(reply, ctx.smoke.expected_shape, "")
        except HealthGateFailed:
            return False
        return True

    return judge


def _timeout(a: an.Analysis) -> float:
    """A request slower than this counts as failed: well past the p99 limit, never the whole bake."""
    limit = 4 * a.max_p99_ms / 1000 if a.max_p99_ms else 10.0
    return max(2.0, min(limit, 30.0))


def _journal(ctx: ExecutionContext, deployment: str, target: Target, revision: str, figures: dict[str, Any]) -> None:
    verdict = f"failed: {figures['breach']}" if figures.get("breach") else "passed"
    g = figures["gate"]
    ctx.state.add_event(deployment, "analysis", f"analysis of {revision} {verdict} ({g['requests']} requests, "
                        f"{g['errors']} errors, p99 {g['p99_ms']} ms)", target=target.name, operation=ctx.operation,
                        data=figures)
