"""Prometheus metrics of the runtime, served at ``GET /metrics`` on the serving port (as KServe does).

Names follow the Prometheus conventions (a ``modelport_`` prefix, base units, ``_total`` on
counters); every series is labelled with the served model and version, never with anything a
request sent (the route label is the route's template, the status its code):

* ``modelport_requests_total{model,version,route,status}`` counter: every answered request.
  Error rate: ``sum(rate(...{status=~"5.."}[5m])) / sum(rate(...[5m]))``.
* ``modelport_request_duration_seconds{model,version,route}`` histogram: arrival to reply sent.
  p99: ``histogram_quantile(0.99, sum by (le) (rate(..._bucket[5m])))``.
* ``modelport_inference_duration_seconds{model,version}`` histogram: the model call alone (one
  observation per call, a merged batch being one call).
* ``modelport_requests_in_flight{model,version}`` gauge: requests being answered now.
* ``modelport_inference_batch_size{model,version}`` histogram: requests served by one model call
  (observed only when batching is on).
* ``request_predict_seconds{model_name}``: KServe's name for the model-call latency, so KServe's
  dashboards read this runtime as they read KServe's model servers.

With several workers (MODELPORT_WORKERS > 1) each process writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` (set by the server before the workers start) and any worker's
``/metrics`` adds all of them up: prometheus_client's multiprocess mode.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector, ProcessCollector,
                               disable_created_metrics, multiprocess)
from prometheus_client.exposition import choose_encoder

from .httpio import Request, Response

if TYPE_CHECKING:
    from .host import ModelHost

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Fine at the low end: a small model answers in a millisecond or two, and a p99 read from the
# histogram is only as sharp as the buckets around it.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
UNMATCHED_ROUTE = "unmatched"  # a path no route matched: the path itself is request content

# the *_created series double the output and no dashboard reads them
disable_created_metrics()


class Metrics:
    """The runtime's metric families for one served model, and their exposition."""

    def __init__(self, model: str, version: str) -> None:
        self.model, self.version = model, version
        self.registry = CollectorRegistry()
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        if not self.multiprocess:  # per-process collectors mean nothing summed over workers
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        both = ("model", "version")
        self.requests = Counter("modelport_requests", "Requests answered, by route template and HTTP status.",
                                (*both, "route", "status"), registry=self.registry)
        self.duration = Histogram("modelport_request_duration_seconds", "Request latency: arrival to reply sent.",
                                  (*both, "route"), buckets=LATENCY_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("modelport_requests_in_flight", "Requests being answered now.", both,
                               multiprocess_mode="livesum", registry=self.registry).labels(model, version)
        self.inference = Histogram("modelport_inference_duration_seconds", "Model call latency (one call may "
                                   "serve a batch of requests).", both, buckets=LATENCY_BUCKETS,
                                   registry=self.registry).labels(model, version)
        self.batch = Histogram("modelport_inference_batch_size", "Requests served by one model call (batching on).",
                               both, buckets=BATCH_BUCKETS, registry=self.registry).labels(model, version)
        self.kserve_predict = Histogram("request_predict_seconds", "predict latency (KServe's name)", ("model_name",),
                                        buckets=LATENCY_BUCKETS, registry=self.registry).labels(model)
        self._counters: dict[tuple[str, int], object] = {}
        self._durations: dict[str, object] = {}

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency (called on the event loop)."""
        counter = self._counters.get((route, status))
        if counter is None:
            counter = self._counters[(route, status)] = self.requests.labels(self.model, self.version, route, str(status))
        counter.inc()
        duration = self._durations.get(route)
        if duration is None:
            duration = self._durations[route] = self.duration.labels(self.model, self.version, route)
        duration.observe(seconds)

    def observe_inference(self, seconds: float) -> None:
        """One model call's latency (called on whichever thread ran it)."""
        self.inference.observe(seconds)
        self.kserve_predict.observe(seconds)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics text in the format the scraper asked for, and its content type."""
        encoder, content_type = choose_encoder(accept or "")
        registry = self.registry
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return encoder(registry), content_type


def metrics_page(host: "ModelHost", request: Request) -> Response:
    """GET /metrics: the Prometheus exposition of this process (of all workers with several)."""
    body, content_type = host.metrics.exposition(request.headers.get("accept"))
    return Response(200, body, content_type=content_type)
