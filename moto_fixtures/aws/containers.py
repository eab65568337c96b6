"""Tasks as containers on the local Docker engine (host networking), labelled with their owner."""

from __future__ import annotations

import os
import socket

import docker
import docker.errors
import httpx

from .hosts import pid_alive
from .taskdef import ContainerPlan, TaskStartError

LABEL = "moto_fixtures.aws"
OWNER = f"{LABEL}.owner"
PID = f"{LABEL}.pid"
SERVICE = f"{LABEL}.service"
TASK_DEFINITION = f"{LABEL}.task-definition"
STOP_TIMEOUT = 2  # seconds between SIGTERM and SIGKILL (ECS waits 30 s; tests need less)


class DockerTasks:
    """Starts, inspects and removes the containers standing in for ECS tasks."""

    def __init__(self, owner: str, docker_host: str | None = None):
        self.owner = owner
        self.client = docker.DockerClient(base_url=docker_host) if docker_host else docker.from_env()

    def ensure_image(self, image: str) -> None:
        """Pull ``image`` unless the engine already has it (a digest reference never changes)."""
        try:
            self.client.images.get(image)
            return
        except docker.errors.ImageNotFound:
            pass
        try:
            self.client.images.pull(image)
        except docker.errors.APIError as exc:
            raise TaskStartError(f"CannotPullContainerError: {image}: {exc.explanation}") from None

    def platform(self, image: str) -> tuple[str, str]:
        """``(os, architecture)`` from the image's config, e.g. ``("linux", "amd64")``."""
        attrs = self.client.images.get(image).attrs
        return attrs.get("Os", "linux"), attrs.get("Architecture", "amd64")

    def run(self, plan: ContainerPlan, service_arn: str, name: str) -> str:
        """Start the task's container; return its id."""
        self.ensure_image(plan.image)
        labels = {OWNER: self.owner, PID: str(os.getpid()), SERVICE: service_arn,
                  TASK_DEFINITION: plan.task_definition_arn}
        try:
            container = self.client.containers.run(
                plan.image, command=plan.command, entrypoint=plan.entrypoint,
                environment=plan.environment, network_mode="host", labels=labels,
                name=name, detach=True)
        except docker.errors.APIError as exc:
            raise TaskStartError(f"CannotStartContainerError: {exc.explanation}") from None
        return container.id

    def state(self, container_id: str) -> tuple[str, int | None]:
        """(status, exit code) of a container; ``("gone", None)`` when it no longer exists."""
        try:
            container = self.client.containers.get(container_id)
        except docker.errors.NotFound:
            return "gone", None
        state = container.attrs.get("State", {})
        return container.status, state.get("ExitCode")

    def logs(self, container_id: str, tail: int = 50) -> str:
        """The last lines a task's container printed."""
        try:
            return self.client.containers.get(container_id).logs(tail=tail).decode(errors="replace")
        except docker.errors.NotFound:
            return ""

    def logs_since(self, container_id: str, since_ns: int) -> bytes:
        """stdout+stderr lines with RFC 3339 timestamps, from ``since_ns`` (unix ns) on."""
        try:
            container = self.client.containers.get(container_id)
            return container.logs(stdout=True, stderr=True, timestamps=True,
                                  since=since_ns / 1e9 if since_ns else None)
        except docker.errors.NotFound:
            return b""

    def remove(self, container_id: str) -> None:
        """Stop (SIGTERM, then SIGKILL) and delete a container; a missing one is fine."""
        try:
            container = self.client.containers.get(container_id)
            container.stop(timeout=STOP_TIMEOUT)
            container.remove(force=True)
        except docker.errors.NotFound:
            pass

    def owned(self) -> list:
        """Every container (running or not) this owner created."""
        return self.client.containers.list(all=True, filters={"label": f"{OWNER}={self.owner}"})

    def remove_all(self) -> None:
        """Remove every container this owner created."""
        for container in self.owned():
            self.remove(container.id)

    def clean_stale(self) -> int:
        """Remove bridge containers left behind by emulations whose process is gone."""
        count = 0
        # other emulations' containers: one may be removed between the list and its inspect
        for container in self.client.containers.list(all=True, filters={"label": PID}, ignore_removed=True):
            pid = int(container.labels.get(PID, "0") or 0)
            if container.labels.get(OWNER) != self.owner and not pid_alive(pid):
                self.remove(container.id)
                count += 1
        return count

    def close(self) -> None:
        """Close the Docker client's connections."""
        self.client.close()


def probe(address: str, port: int | None, path: str | None, timeout: float = 1.0) -> str | None:
    """Health-check a task like the load balancer does; None when healthy, else why not."""
    if port is None:
        return None  # nothing to probe: a running container counts as healthy, as in ECS
    if path is None:
        try:
            with socket.create_connection((address, port), timeout=timeout):
                return None
        except OSError as exc:
            return f"TCP {address}:{port}: {exc.strerror or exc}"
    try:
        reply = httpx.get(f"http://{address}:{port}{path}", timeout=timeout)
    except httpx.HTTPError as exc:
        return f"GET {path}: {type(exc).__name__}"
    return None if reply.status_code < 400 else f"GET {path}: HTTP {reply.status_code}"
