"""Spec -> Swarm service, as plain data (what ``modelport plan`` shows). Pure: no Docker call.

One revision is one replicated service on the host network. Its tasks run the image's runtime
(``serve``), told where to listen by the runtime's own environment contract: ``MODELPORT_HOST``
(the address to bind) and ``PORT``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from modelport.provider import (TAG_CONFIG, TAG_DEPLOYMENT, TAG_DIGEST, TAG_REVISION, RevisionSpec,
                                client_side_secret)

from .settings import SwarmSettings

# labels of our own besides the TAG_* ones of modelport.provider (same "modelport:" prefix)
L_TARGET = "modelport:target"
L_ADDRESS = "modelport:address"
L_PORT = "modelport:port"
L_MODEL_VERSION = "modelport:model-version"
L_ACTIVE = "modelport:active"  # on the service that receives the deployment's traffic

MAX_NAME = 63  # Swarm service names are DNS labels
ANY_ADDRESS = ("0.0.0.0", "::")
NANO = 1_000_000_000


def service_name(target: str, deployment: str, revision: str) -> str:
    """``mp-<target>-<deployment>-<revision>``; the target is part of the name so two targets on
    one swarm (e.g. a migration dev -> staging) never collide. Too long: shortened with a hash."""
    name = f"mp-{target}-{deployment}-{revision}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"mp-{deployment[:MAX_NAME - 16 - len(revision)]}-{digest}-{revision}"[:MAX_NAME]


def image_for(rev: RevisionSpec, settings: SwarmSettings) -> str:
    """What the tasks run: the registry reference (by digest) when a registry is configured,
    else the local engine's image ID (a single-node swarm runs it without any registry)."""
    if settings.registry and rev.image.ref:
        return rev.image.ref
    return rev.image.image_id


def endpoint_host(settings: SwarmSettings, address: str) -> str:
    """The host clients use for a revision bound on ``address``."""
    if settings.address != "loopback" and settings.endpoint_host:
        return settings.endpoint_host
    return "127.0.0.1" if address in ANY_ADDRESS else address


def revision_labels(target: str, rev: RevisionSpec, address: str | None, port: int | None) -> dict[str, str]:
    """modelport's tags (and where the revision listens), on the service and its containers."""
    labels = {TAG_DEPLOYMENT: rev.deployment, TAG_REVISION: rev.revision, TAG_DIGEST: rev.image.digest,
              TAG_CONFIG: rev.config, L_TARGET: target, L_MODEL_VERSION: rev.model_version}
    if address is not None:
        labels[L_ADDRESS] = address
    if port is not None:
        labels[L_PORT] = str(port)
    return labels


def service_spec(rev: RevisionSpec, settings: SwarmSettings, target: str, address: str | None = None,
                 port: int | None = None, image: str | None = None, reveal: bool = False) -> dict[str, Any]:
    """The service for ``rev``. ``address``/``port`` are chosen when the revision is created (None
    in plans); ``reveal`` puts secret values in the environment (only when creating)."""
    port = port if port is not None else (None if settings.port_range else rev.port)
    labels = {**settings.labels, **revision_labels(target, rev, address, port)}
    bound = f"{address or '(chosen at creation)'}:{port or '(chosen at creation)'}"
    return {
        "name": service_name(target, rev.deployment, rev.revision),
        "image": image or image_for(rev, settings),
        "args": ["serve"],
        "env": _env(rev, settings, address, port, reveal),
        "labels": labels,
        "container_labels": revision_labels(target, rev, address, port),
        "replicas": max(rev.min_instances, 1),
        "networks": ["host"],
        "bind": bound,
        "resources": _resources(rev, settings),
        "placement": {"constraints": list(settings.constraints), "max_replicas_per_node": 1},
        "healthcheck": _healthcheck(address, port, settings),
        "restart": {"condition": "on-failure", "max_attempts": settings.restart_attempts, "delay_s": 2},
        "update": {"parallelism": 1, "order": "stop-first", "failure_action": "rollback", "monitor_s": 10},
        "stop_grace_period_s": settings.stop_grace_period,
        "notes": _notes(rev),
    }


def _env(rev: RevisionSpec, settings: SwarmSettings, address: str | None, port: int | None,
         reveal: bool) -> dict[str, str]:
    env = dict(rev.env)
    env.update({name: client_side_secret(rev, name, reveal) for name in sorted(rev.secrets)})
    # drain a little faster than Swarm's kill deadline so a stopping task exits cleanly
    env.setdefault("MODELPORT_GRACEFUL_TIMEOUT", str(max(settings.stop_grace_period - 2, 0)))
    env["MODELPORT_HOST"] = address or "(chosen at creation)"
    env["PORT"] = str(port) if port is not None else "(chosen at creation)"
    return env


def _resources(rev: RevisionSpec, settings: SwarmSettings) -> dict[str, dict[str, int]]:
    cpu, memory = int(rev.size.cpu * NANO), rev.size.memory_mib * 1024 * 1024
    out: dict[str, dict[str, int]] = {"limits": {}, "reservations": {}}
    if settings.limit:
        out["limits"] = {"nano_cpus": cpu, "memory_bytes": memory}
    if settings.reserve:
        out["reservations"] = {"nano_cpus": int(cpu * settings.reserve), "memory_bytes": int(memory * settings.reserve)}
    return out


def _healthcheck(address: str | None, port: int | None, settings: SwarmSettings) -> dict[str, Any]:
    """Swarm's own probe of the runtime's ready route. python3 is in every modelport image; -I -S
    and a raw socket keep each probe cheap, and the generous timeout/retries keep a busy node
    from having its healthy tasks killed (a timed-out probe counts as a failure)."""
    host = "127.0.0.1" if address in ANY_ADDRESS or address is None else address
    request = f"GET /v2/health/ready HTTP/1.0\r\nHost: {host}\r\n\r\n".encode()
    probe = (f"import socket,sys; s=socket.create_connection(({host!r}, {port}), 8); s.sendall({request!r}); "
             "sys.exit(0 if s.recv(16).split(b' ')[1:2] == [b'200'] else 1)")
    return {"test": ["CMD", "python3", "-I", "-S", "-c", probe],
            "interval_s": 5, "timeout_s": 10, "retries": 6, "start_period_s": settings.start_period}


def _notes(rev: RevisionSpec) -> list[str]:
    notes = ["one task per node (host networking: a node can bind the address once)"]
    if rev.max_instances > rev.min_instances:
        notes.append(f"Swarm does not autoscale: runs {max(rev.min_instances, 1)} task(s), "
                     f"max_instances={rev.max_instances} is not used")
    if rev.min_instances == 0:
        notes.append("Swarm cannot scale to zero: runs 1 task")
    return notes
