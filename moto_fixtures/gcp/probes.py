"""Startup probes as Cloud Run runs them (HTTP GET or TCP; TCP on the port by default)."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import httpx

# Cloud Run's default startup probe: TCP on the container port, 240 s, one failure allowed.
DEFAULT_PERIOD_S = 240
DEFAULT_TIMEOUT_S = 240
DEFAULT_FAILURES = 1


@dataclass(frozen=True)
class ProbeSpec:
    """What to probe and for how long."""

    kind: str  # "http" or "tcp"
    path: str
    headers: dict
    timeout: float
    initial_delay: float
    budget_seconds: float
    explicit: bool  # an HTTP check the user configured (changes the failure wording)


def startup_probe(container: dict) -> ProbeSpec:
    """The startup probe of a container, with Cloud Run's defaults filled in.

    The probe's port is the declared container port; here the instance listens on its own PORT,
    so the probe always targets the instance's port.
    """
    probe = container.get("startupProbe")
    if not probe:
        return ProbeSpec("tcp", "", {}, 1.0, 0, DEFAULT_PERIOD_S * DEFAULT_FAILURES, False)
    period = probe.get("periodSeconds", 10)
    failures = probe.get("failureThreshold", 3)
    timeout = min(float(probe.get("timeoutSeconds", 1)), 5.0)
    delay = probe.get("initialDelaySeconds", 0)
    budget = period * failures + timeout
    if "httpGet" in probe:
        http = probe["httpGet"]
        headers = {h["name"]: h.get("value", "") for h in http.get("httpHeaders", [])}
        return ProbeSpec("http", http.get("path", "/"), headers, timeout, delay, budget, True)
    return ProbeSpec("tcp", "", {}, timeout, delay, budget, False)


def probe_once(client: httpx.Client, spec: ProbeSpec, host: str, port: int) -> bool:
    """One attempt: HTTP 2xx/3xx, or a TCP connection accepted."""
    if spec.kind == "http":
        try:
            reply = client.get(f"http://{host}:{port}{spec.path}", headers=spec.headers)
        except httpx.HTTPError:
            return False
        return 200 <= reply.status_code < 400
    try:
        with socket.create_connection((host, port), timeout=spec.timeout):
            return True
    except OSError:
        return False
