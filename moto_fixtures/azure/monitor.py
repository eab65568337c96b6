"""Background watchers: Docker exits/restarts into instanceView, and HTTP/exec probes.

Readiness failures become 'Unhealthy' warning events; liveness failures past the threshold
restart the container, as ACI does (swagger ``ContainerProbe`` in containerInstance-2023-05-01.json;
https://learn.microsoft.com/azure/container-instances/container-instances-liveness-probe and
container-instances-readiness-probe).
"""
from __future__ import annotations

import datetime as dt
import ssl
import threading
import time
import urllib.request

from docker.errors import DockerException

from .model import add_event, now_iso
from .runtime import docker_time

_TICK = 0.5
# Like the kubelet, an https probe does not verify the certificate.
_NO_VERIFY = ssl.create_default_context()
_NO_VERIFY.check_hostname = False
_NO_VERIFY.verify_mode = ssl.CERT_NONE


class Monitor:
    """Runs the Docker event listener and the probe loop for one :class:`ArmService`."""

    def __init__(self, service):
        self.service = service
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start both watcher threads."""
        for target, name in ((self._events, "arm-docker-events"), (self._probes, "arm-probes")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the watchers."""
        self._stop.set()
        for thread in self._threads:
            thread.join(5)

    # -- docker events ---------------------------------------------------------------------
    def _events(self) -> None:
        # Windows of one second: a blocking stream could not be interrupted at shutdown.
        # The engine counts whole seconds, so windows overlap at their edges: dedupe.
        since, seen = dt.datetime.now(dt.timezone.utc), set()
        while not self._stop.is_set():
            until = since + dt.timedelta(seconds=1)
            try:
                for event in self.service.runtime.events(since, until):
                    key = (event.get("id"), event.get("Action"), event.get("timeNano"))
                    if key not in seen:
                        seen.add(key)
                        self._on_event(event)
            except Exception:  # noqa: BLE001 - a slow or restarting engine must not end the watch
                self._stop.wait(1)
                continue  # retry the same window: an event missed here would be lost
            since = until

    def _on_event(self, event: dict) -> None:
        action = event.get("Action") or event.get("status")
        found = self.service.id_map.get(event.get("id"))
        if not found:
            return
        group, name = found
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        with self.service.lock:
            record = group.containers.get(name)
            if record is None or record.docker_id != event.get("id"):
                return
            if action == "die":
                code = int(attributes.get("exitCode", 0))
                record.last_exit = {"state": "Terminated", "exitCode": code,
                                    "finishTime": now_iso(),
                                    "detailStatus": "Completed" if code == 0 else "Error"}
            elif action == "start" and record.last_exit is not None:
                add_event(record.events, "Started", "Started container")

    # -- probes ----------------------------------------------------------------------------
    def _probes(self) -> None:
        while not self._stop.wait(_TICK):
            try:
                self._probe_all()
            except Exception:  # noqa: BLE001 - one failed round must not end the watch
                continue

    def _probe_all(self) -> None:
        with self.service.lock:
            work = [(g, spec, g.containers.get(spec["name"]))
                    for g in self.service.groups.values()
                    if not g.stopped and not g.busy_operation and g.ip
                    for spec in g.container_specs()]
        for group, spec, record in work:
            if record is not None and record.docker_id:
                for kind in ("readinessProbe", "livenessProbe"):
                    probe = spec["properties"].get(kind)
                    if probe:
                        self._maybe_probe(group, spec["name"], record, kind, probe)

    def _maybe_probe(self, group, name: str, record, kind: str, probe: dict) -> None:
        attrs = self.service.runtime.inspect(record.docker_id)
        if not attrs or attrs["State"]["Status"] != "running":
            return
        started = _epoch(docker_time(attrs["State"]["StartedAt"]))
        now = time.time()
        if now - started < probe.get("initialDelaySeconds", 0):
            return
        if now - record.last_probe.get(kind, 0) < probe.get("periodSeconds", 10):
            return
        record.last_probe[kind] = now
        error = self._run_probe(group.ip, record.docker_id, probe)
        self._record(group, name, record, kind, probe, error)

    def _run_probe(self, ip: str, docker_id: str, probe: dict) -> str | None:
        timeout = probe.get("timeoutSeconds", 1)
        if probe.get("httpGet"):
            get = probe["httpGet"]
            url = f"{get.get('scheme') or 'http'}://{ip}:{get['port']}{get.get('path') or '/'}"
            headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
            try:
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                            timeout=timeout, context=_NO_VERIFY) as resp:
                    return None if 200 <= resp.status < 400 else f"HTTP probe failed with " \
                                                                  f"statuscode: {resp.status}"
            except Exception as exc:  # noqa: BLE001 - every failure is a probe failure
                return f"Get {url}: {exc}"
        command = (probe.get("exec") or {}).get("command")
        if command:
            ok = self.service.runtime.exec_ok(docker_id, command)
            return None if ok else f"exec {command} failed"
        return None

    def _record(self, group, name: str, record, kind: str, probe: dict, error) -> None:
        label = "Readiness" if kind == "readinessProbe" else "Liveness"
        with self.service.lock:
            if error is None:
                record.probe_failures[kind] = 0
                return
            record.probe_failures[kind] = record.probe_failures.get(kind, 0) + 1
            add_event(record.events, "Unhealthy", f"{label} probe failed: {error}", "Warning")
            restart = (kind == "livenessProbe"
                       and record.probe_failures[kind] >= probe.get("failureThreshold", 3))
            if restart:
                record.probe_failures[kind] = 0
                add_event(record.events, "Killing", f"Container {name} failed liveness "
                                                    "probe, will be restarted")
        if restart:
            try:
                self.service.runtime.restart(record.docker_id)
            except DockerException:
                pass


def _epoch(stamp: str | None) -> float:
    if not stamp:
        return time.time()
    return time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
