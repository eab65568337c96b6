"""Analysis gates: watch a new revision for ``bake`` seconds, under load, and judge it.

During the bake the gate sends ``load`` requests/s itself (drawn from the evaluation set, or the
sample input) to the new revision -- its own endpoint, or the deployment's endpoint during a
canary step so the revision is judged at its traffic share -- and reads the revision's own
``/metrics`` (which count real traffic too). The gate fails as soon as a threshold is certainly
breached: more failed requests, or more requests slower than ``max_p99_ms``, than the whole
window could absorb. ``max_p99_ratio`` compares the p99 with the serving revision's over the same
window (the gate sends it the same load) and is judged when the bake ends. The figures that
decided go to the journal and, on failure, into the :class:`HealthGateFailed`.

Nothing here knows a cloud: the provider says where a revision and the endpoint answer and which
headers a request needs there (``health``, ``endpoint_headers``).
"""

from __future__ import annotations

import json
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

import httpx

from ..errors import HealthGateFailed
from . import promstats
from .events import GateProgress

if TYPE_CHECKING:
    from ..provider import Provider, Target
    from .executor import ExecutionContext

TICK = 0.25          # seconds between two looks at the figures
METRICS_EVERY = 2.0  # seconds between two reads of /metrics (each is a request to the revision)
P99_FLOOR_S = 0.001  # a p99 below a millisecond is timer noise: the ratio uses at least this


@dataclass(frozen=True)
class Analysis:
    """``[rollout.analysis]`` plus the request bodies its load is drawn from."""

    bake: float = 0.0
    load: float = 0.0
    max_error_rate: float = 0.01
    max_p99_ms: float | None = None
    max_p99_ratio: float | None = None
    bodies: tuple[Mapping[str, Any], ...] = ()
    #: per body, how many values the first output holds (an evaluation row's ``expected``); None:
    #: the sample input, whose first output must have ``serving.expected_output_shape``
    sizes: tuple[int | None, ...] = ()

    @property
    def active(self) -> bool:
        """Whether gates bake at all (``bake = 0``: the smoke request only)."""
        return self.bake > 0

    def thresholds(self) -> dict[str, Any]:
        """What the gate holds the revision to (the ``expected`` of a failure)."""
        out = {"max_error_rate": self.max_error_rate, "max_p99_ms": self.max_p99_ms,
               "max_p99_ratio": self.max_p99_ratio}
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class Sample:
    """One request the gate sent: which model version answered (None: unknown), whether it was
    a good answer, and how long it took."""

    version: str | None
    ok: bool
    seconds: float


class Window:
    """The gate's own measurements of one destination (requests finish on several threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: list[Sample] = []

    def add(self, sample: Sample) -> None:
        """Record one finished request."""
        with self._lock:
            self._samples.append(sample)

    def samples(self, keep: Callable[[Sample], bool] = lambda _s: True) -> list[Sample]:
        """The samples so far that ``keep`` selects."""
        with self._lock:
            return [s for s in self._samples if keep(s)]


def quantile(values: list[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def own_figures(samples: list[Sample]) -> dict[str, Any]:
    """Requests, errors, error rate, p50 and p99 (ms) of the gate's own requests."""
    seconds = [s.seconds for s in samples]
    errors = sum(not s.ok for s in samples)
    return {"requests": len(samples), "errors": errors,
            "error_rate": round(errors / len(samples), 4) if samples else 0.0,
            "p50_ms": _ms(quantile(seconds, 0.5)), "p99_ms": _ms(quantile(seconds, 0.99))}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def breach(a: Analysis, samples: list[Sample], expected: float, final: bool) -> str | None:
    """Why the gate's own measurements fail the revision, or None. Before the end (``final``
    False) only a certain breach counts: more errors, or more answers slower than ``max_p99_ms``,
    than ``expected`` requests in the whole window could absorb."""
    total = len(samples) if final else max(expected, len(samples))
    if not total:
        return None
    errors = sum(not s.ok for s in samples)
    if errors > a.max_error_rate * total:
        return f"error rate {errors}/{len(samples)} exceeds max_error_rate {a.max_error_rate:g}"
    if a.max_p99_ms is not None:
        slow = sum(s.seconds * 1000 > a.max_p99_ms for s in samples)
        if slow > 0.01 * total:
            p99 = _ms(quantile([s.seconds for s in samples], 0.99))
            return f"p99 {p99:g} ms exceeds max_p99_ms {a.max_p99_ms:g} ({slow} of {len(samples)} slower)"
    return None


def metrics_breach(a: Analysis, seen: promstats.Reading, expected: float, final: bool) -> str | None:
    """Why the revision's own counters fail it, or None (judged like :func:`breach`; a latency
    counts as slower than ``max_p99_ms`` only when its whole histogram bucket is)."""
    total = seen.requests if final else max(expected, seen.requests)
    if not total:
        return None
    if seen.errors > a.max_error_rate * total:
        return (f"/metrics: {seen.errors:g} of {seen.requests:g} requests answered 5xx, beyond max_error_rate "
                f"{a.max_error_rate:g}")
    if a.max_p99_ms is not None:
        slow = _certainly_slower(seen, a.max_p99_ms / 1000)
        if slow > 0.01 * total:
            return f"/metrics: {slow:g} of {seen.requests:g} requests slower than max_p99_ms {a.max_p99_ms:g}"
    return None


def _certainly_slower(seen: promstats.Reading, seconds: float) -> float:
    bounds = sorted(le for le in seen.buckets if le >= seconds)
    if not bounds:
        return 0.0
    return seen.buckets.get(math.inf, 0.0) - seen.buckets[bounds[0]]


class LoadSender:
    """Sends ``rate`` requests/s to ``endpoint`` on a thread pool until stopped; each answer goes
    to ``window``. Requests leave on schedule even when answers are slow (as real users do)."""

    def __init__(self, endpoint: str, model: str, bodies: tuple[Mapping[str, Any], ...], headers: Mapping[str, str],
                 rate: float, window: Window, judge: Callable[[int, dict], bool], timeout: float) -> None:
        self.url = f"{endpoint.rstrip('/')}/v2/models/{model}/infer"
        self.bodies, self.headers, self.rate = bodies, {"content-type": "application/json", **headers}, rate
        self.window, self.judge, self.timeout = window, judge, timeout
        workers = max(2, min(32, math.ceil(rate * timeout)))
        self.client = httpx.Client(limits=httpx.Limits(max_connections=workers), timeout=timeout)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gate-load")
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._schedule, daemon=True)

    def start(self) -> "LoadSender":
        """Begin sending (nothing when the rate is 0 or there is nothing to send)."""
        if self.rate > 0 and self.bodies:
            self.thread.start()
        return self

    def stop(self) -> None:
        """Stop sending; answers still on their way are not counted."""
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Free the connections (after :meth:`stop`)."""
        self.pool.shutdown(wait=True)
        self.client.close()

    def _schedule(self) -> None:
        start, sent = time.monotonic(), 0
        while not self.stopped.is_set():
            self.pool.submit(self._one, sent % len(self.bodies))
            sent += 1
            self.stopped.wait(max(0.0, start + sent / self.rate - time.monotonic()))

    def _one(self, index: int) -> None:
        if self.stopped.is_set():
            return
        t0 = time.perf_counter()
        version, ok = None, False
        try:
            reply = self.client.post(self.url, content=json.dumps(self.bodies[index]), headers=self.headers)
            if reply.status_code == 200:
                data = reply.json()
                version = data.get("model_version")
                ok = self.judge(index, data)
        except (httpx.HTTPError, ValueError):
            pass
        if not self.stopped.is_set():
            self.window.add(Sample(version, ok, time.perf_counter() - t0))


@dataclass
class Watched:
    """A revision the gate watches: where its runtime answers, and its ``/metrics`` baseline."""

    revision: str
    endpoint: str | None
    headers: Mapping[str, str]
    first: promstats.Reading | None = None

    def read(self, client: httpx.Client) -> promstats.Reading | None:
        """The revision's counters now (None without a reachable ``/metrics``)."""
        return promstats.read(self.endpoint, self.headers, client) if self.endpoint else None

    def since_start(self, client: httpx.Client) -> promstats.Reading | None:
        """What the revision counted since the gate began watching."""
        now = self.read(client)
        return now.since(self.first) if now is not None and self.first is not None else None


def watched(ctx: ExecutionContext, provider: Provider, target: Target, deployment: str, revision: str) -> Watched:
    """Where ``revision`` itself answers, with the headers a request needs there (the endpoint's,
    e.g. an API key or identity token, and the revision's own, e.g. a routing header)."""
    health = ctx.call("health", f"read the health of {revision} on {target.name}",
                      lambda: provider.health(target, deployment, revision))
    headers = {**provider.endpoint_headers(target, deployment), **dict(health.headers)}
    return Watched(revision, health.endpoint, headers)


def baseline_revision(ctx: ExecutionContext, provider: Provider, target: Target, deployment: str,
                      revision: str) -> str | None:
    """The revision serving before this operation: the one recorded, else the biggest other share."""
    rows = ctx.state.deployments(deployment, target.name)
    if rows and rows[0].get("revision") and rows[0]["revision"] != revision:
        return rows[0]["revision"]
    traffic = {k: v for k, v in ctx.observe(provider, target, deployment).traffic.items() if v and k != revision}
    return max(traffic, key=traffic.get) if traffic else None


def progress(ctx: ExecutionContext, deployment: str, target: str, revision: str, figures: dict[str, Any],
             left: float) -> None:
    """The gate's live line: requests, errors, p50/p99 and time left."""
    ctx.event(GateProgress(deployment=deployment, target=target, revision=revision, requests=figures["requests"],
                           errors=figures["errors"], p50_ms=figures["p50_ms"], p99_ms=figures["p99_ms"],
                           left=round(max(left, 0.0), 1)))
