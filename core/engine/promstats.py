"""A revision's own numbers, read from the Prometheus text its runtime serves at ``/metrics``.

The serving runtime counts every answered request (``modelport_requests_total``) and observes its
latency (``modelport_request_duration_seconds``), real traffic included. A gate reads the page at
the start of its window and again while it watches; the difference of two readings is what the
revision answered in between. Only prediction routes count (a health probe is not a prediction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

REQUESTS = "modelport_requests"
DURATION = "modelport_request_duration_seconds"
#: route templates that answer predictions (OIP v2, KServe v1, SageMaker)
PREDICTION_MARKS = ("infer", ":predict", "invocations")


@dataclass(frozen=True)
class Reading:
    """One reading of a revision's counters: prediction requests, those answered 5xx, and the
    cumulative latency histogram (upper bound in seconds -> count)."""

    requests: float = 0.0
    errors: float = 0.0
    buckets: Mapping[float, float] = field(default_factory=dict)

    def since(self, earlier: "Reading") -> "Reading":
        """What was counted between ``earlier`` and this reading (a restart resets to this one)."""
        if self.requests < earlier.requests:
            return self
        return Reading(self.requests - earlier.requests, self.errors - earlier.errors,
                       {le: n - earlier.buckets.get(le, 0.0) for le, n in self.buckets.items()})

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile in seconds, interpolated in its bucket as PromQL's
        ``histogram_quantile`` does; None without observations."""
        bounds = sorted(self.buckets)
        total = self.buckets.get(math.inf, 0.0) if bounds else 0.0
        if total <= 0:
            return None
        rank, lower, below = q * total, 0.0, 0.0
        for le in bounds:
            count = self.buckets[le]
            if count >= rank:
                if math.isinf(le):  # above the highest finite bucket: its bound is all we know
                    return lower
                inside = count - below
                return lower + (le - lower) * ((rank - below) / inside if inside else 1.0)
            lower, below = le, count
        return lower


def _prediction(labels: Mapping[str, str]) -> bool:
    route = labels.get("route", "")
    return any(mark in route for mark in PREDICTION_MARKS)


def parse(text: str) -> Reading:
    """A :class:`Reading` of the runtime's exposition text (ValueError when it is not one)."""
    requests = errors = 0.0
    buckets: dict[float, float] = {}
    found = False
    for family in text_string_to_metric_families(text):
        if family.name == REQUESTS:
            found = True
            for sample in family.samples:
                if sample.name.endswith("_total") and _prediction(sample.labels):
                    requests += sample.value
                    errors += sample.value if sample.labels.get("status", "").startswith("5") else 0.0
        elif family.name == DURATION:
            for sample in family.samples:
                if sample.name.endswith("_bucket") and _prediction(sample.labels):
                    le = float(sample.labels["le"])
                    buckets[le] = buckets.get(le, 0.0) + sample.value
    if not found:
        raise ValueError(f"no {REQUESTS}_total series")
    return Reading(requests, errors, buckets)


def read(endpoint: str, headers: Mapping[str, str], client: httpx.Client) -> Reading | None:
    """The revision's reading at ``endpoint``, or None when it serves no such page (a runtime
    without metrics): the gate then judges by its own measurements alone."""
    try:
        reply = client.get(f"{endpoint.rstrip('/')}/metrics", headers=dict(headers), timeout=5)
        if reply.status_code != 200 or not reply.headers.get("content-type", "").startswith("text/plain"):
            return None
        return parse(reply.text)
    except (httpx.HTTPError, ValueError):
        return None
