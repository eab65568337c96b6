"""Revisions on the Docker engine: one replica per active revision, on its own 127.0.0.x address.

A replica is ready when its Readiness probe passes: an ``httpGet`` probe of the template answers
200-399, or, without one, the target port accepts TCP connections (the platform's default
readiness probe for an app with ingress is a TCP probe on the target port; user probes replace
it: https://learn.microsoft.com/azure/container-apps/health-probes, "Default configuration").
Scale to zero is not modelled: an active revision keeps one replica, so requests never wait for
a cold start.
"""
from __future__ import annotations

import os
import socket
import time

import httpx
from docker.errors import APIError, DockerException

from . import addresses
from .runtime import CONTAINER_LABEL, GROUP_LABEL, INSTANCE_LABEL, LABEL, LABEL_VALUE, DockerRuntime

READY_TIMEOUT_S = 180.0
RUNNABLE_PLATFORM = ("linux", "amd64")  # Container Apps runs linux/amd64 images (containers page)


class RevisionFailed(Exception):
    """The revision's replica could not start or never became ready."""


def start_replica(runtime: DockerRuntime, app_id: str, revision: str, template: dict,
                  env: dict, port: int | None, credentials: list[dict]) -> tuple[str, str]:
    """Pull, run and wait for the first container of ``template``; returns (docker id, ip)."""
    container = template["containers"][0]
    image = container["image"]
    try:
        runtime.pull(image, credentials)
    except DockerException as exc:
        raise RevisionFailed(f"Failed to pull image '{image}': {_first(exc)}") from None
    if runtime.platform(image) != RUNNABLE_PLATFORM:
        raise RevisionFailed(f"Image '{image}' is not built for linux/amd64.")
    ip = addresses.allocate([port] if port else [])
    try:
        docker_id = _run(runtime, app_id, revision, container, {**env, "MODELPORT_HOST": ip}, ip)
    except (APIError, DockerException) as exc:
        addresses.release(ip)
        raise RevisionFailed(f"The container could not be created: {_first(exc)}") from None
    if port:
        try:
            _wait_ready(runtime, docker_id, ip, port, revision, _readiness(container))
        except RevisionFailed:
            stop_replica(runtime, docker_id, ip)
            raise
    return docker_id, ip


def _run(runtime: DockerRuntime, app_id: str, revision: str, container: dict, env: dict,
         ip: str) -> str:
    resources = container.get("resources") or {}
    cpu = float(resources.get("cpu", 0.25))
    memory = float(str(resources.get("memory", "0.5Gi")).removesuffix("Gi"))
    created = runtime.client.containers.create(
        image=container["image"], name=f"aca-{runtime.instance_id[:8]}-{revision}-{ip.rsplit('.', 1)[1]}",
        network_mode="host", environment=env,
        labels={LABEL: LABEL_VALUE, INSTANCE_LABEL: runtime.instance_id, GROUP_LABEL: app_id,
                CONTAINER_LABEL: revision},
        entrypoint=container.get("command") or None, command=container.get("args") or None,
        nano_cpus=int(min(cpu, os.cpu_count() or 1) * 1e9), mem_limit=f"{int(memory * 1024)}m",
        restart_policy={"Name": "always"})
    try:
        created.start()
    except APIError:
        created.remove(force=True)
        raise
    return created.id


def _readiness(container: dict) -> dict | None:
    """The template's Readiness httpGet probe (spec ContainerAppProbe), if any."""
    probe = next((p for p in container.get("probes") or [] if p.get("type") == "Readiness"), None)
    return (probe or {}).get("httpGet")


def _probe(ip: str, port: int, http_get: dict | None) -> bool:
    if http_get is None:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((ip, port)) == 0
    try:
        reply = httpx.get(f"http://{ip}:{http_get.get('port') or port}{http_get.get('path') or '/'}", timeout=2)
    except httpx.HTTPError:
        return False
    return 200 <= reply.status_code < 400


def _wait_ready(runtime: DockerRuntime, docker_id: str, ip: str, port: int, revision: str,
                http_get: dict | None) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        state = (runtime.inspect(docker_id) or {}).get("State") or {}
        if state.get("Restarting") or (state.get("Status") == "exited"):
            raise RevisionFailed(f"Revision '{revision}': the container exited with code "
                                 f"{state.get('ExitCode')} before it became ready.")
        if _probe(ip, port, http_get):
            return
        time.sleep(0.2)
    raise RevisionFailed(f"Revision '{revision}': the readiness probe did not pass within "
                         f"{READY_TIMEOUT_S:.0f}s.")


def stop_replica(runtime: DockerRuntime, docker_id: str | None, ip: str | None) -> None:
    """Stop and remove a replica and give its address back."""
    runtime.stop_and_remove(docker_id, timeout=3)
    if ip:
        addresses.release(ip)


def _first(exc: Exception) -> str:
    return (str(exc).splitlines() or ["error"])[0][:300]


def container_env(template: dict, config: dict) -> dict:
    """The first container's environment: values, and app secrets by secretRef."""
    values = {s["name"]: s.get("value") or "" for s in config.get("secrets") or []}
    out = {}
    for var in template["containers"][0].get("env") or []:
        out[var["name"]] = values.get(var["secretRef"], "") if var.get("secretRef") else var.get("value", "")
    return out


def pull_credentials(config: dict) -> list[dict]:
    """Registry credentials (username + password secret) in the form the Docker runtime takes."""
    values = {s["name"]: s.get("value") or "" for s in config.get("secrets") or []}
    return [{"server": r["server"], "username": r.get("username"),
             "password": values.get(r.get("passwordSecretRef") or "", "")}
            for r in config.get("registries") or [] if r.get("username")]
