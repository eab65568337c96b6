"""Liveness probes: an instance that stops answering its liveness probe is restarted.

Cloud Run probes liveness every period_seconds once the startup probe passed; after
failure_threshold consecutive failures the instance is restarted (SIGTERM, then a new process).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import docker.errors
import httpx

from .probes import ProbeSpec, probe_once

DEFAULT_PERIOD_S = 10
DEFAULT_FAILURES = 3


@dataclass
class Watch:
    """One instance under liveness checks."""

    instance: object  # runtime.Instance
    spec: ProbeSpec
    period: float
    threshold: int
    due: float
    failures: int = 0


def liveness_spec(container: dict) -> tuple[ProbeSpec, float, int] | None:
    """(probe, period, failure threshold) of a container's liveness probe, None when unset."""
    probe = container.get("livenessProbe")
    if not probe:
        return None
    timeout = min(float(probe.get("timeoutSeconds", 1)), 5.0)
    delay = probe.get("initialDelaySeconds", 0)
    if "httpGet" in probe:
        http = probe["httpGet"]
        headers = {h["name"]: h.get("value", "") for h in http.get("httpHeaders", [])}
        spec = ProbeSpec("http", http.get("path", "/"), headers, timeout, delay, 0, True)
    else:
        spec = ProbeSpec("tcp", "", {}, timeout, delay, 0, False)
    return spec, probe.get("periodSeconds", DEFAULT_PERIOD_S), probe.get("failureThreshold",
                                                                        DEFAULT_FAILURES)


class LivenessMonitor:
    """A background thread probing watched instances and restarting the ones that fail."""

    def __init__(self, client: docker.DockerClient, closing: threading.Event):
        self.client = client
        self.closing = closing
        self.watches: dict[str, Watch] = {}
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name="cloudrun-liveness", daemon=True)
        self.thread.start()

    def watch(self, instance, container: dict) -> None:
        """Start probing `instance` if its container declares a liveness probe."""
        found = liveness_spec(container)
        if found is None:
            return
        spec, period, threshold = found
        due = time.monotonic() + spec.initial_delay + period
        with self.lock:
            self.watches[instance.container_id] = Watch(instance, spec, period, threshold, due)

    def forget(self, instance) -> None:
        """Stop probing an instance (it is being stopped)."""
        with self.lock:
            self.watches.pop(instance.container_id, None)

    def _loop(self) -> None:
        with httpx.Client() as http:
            while not self.closing.wait(0.25):
                with self.lock:
                    due = [w for w in self.watches.values() if w.due <= time.monotonic()]
                for watch in due:
                    self._check(http, watch)

    def _check(self, http: httpx.Client, watch: Watch) -> None:
        instance = watch.instance
        watch.due = time.monotonic() + watch.period
        http.timeout = httpx.Timeout(watch.spec.timeout)
        if probe_once(http, watch.spec, instance.host, instance.port):
            watch.failures = 0
            return
        watch.failures += 1
        if watch.failures < watch.threshold:
            return
        watch.failures = 0
        watch.due = time.monotonic() + watch.spec.initial_delay + watch.period
        try:
            self.client.containers.get(instance.container_id).restart(timeout=2)
        except docker.errors.APIError:
            pass  # gone or being removed: nothing left to restart
