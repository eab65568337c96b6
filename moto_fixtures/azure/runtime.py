"""The data plane: each running container group's containers on the local Docker engine.

Containers use host networking and bind the group's own 127.0.0.x address (given to them as
MODELPORT_HOST), so the address ARM reports for the group is the address that serves.
"""
from __future__ import annotations

import datetime as dt
import os
import threading

import docker
from docker.errors import APIError, DockerException, NotFound

from .errors import bad_request

LABEL = "modelport.emulator"
LABEL_VALUE = "azure-arm"
INSTANCE_LABEL = "modelport.emulator.instance"
GROUP_LABEL = "modelport.azure.group"
CONTAINER_LABEL = "modelport.azure.container"
_RESTART = {"Always": {"Name": "always"}, "OnFailure": {"Name": "on-failure"}, "Never": None}


def docker_time(value: str | None) -> str | None:
    """Docker's nanosecond RFC 3339 stamp as ARM's millisecond one (None if unset)."""
    if not value or value.startswith("0001-"):
        return None
    head, _, frac = value.rstrip("Z").partition(".")
    return f"{head}.{(frac + '000')[:3]}Z"


def registry_of(image: str) -> str:
    """The registry host of an image reference (docker.io when none is named)."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def auth_for(image: str, credentials: list[dict]) -> dict | None:
    """The docker auth_config of the imageRegistryCredentials entry for the image's registry."""
    host = registry_of(image).lower()
    for cred in credentials:
        if cred.get("server", "").lower() == host and cred.get("username"):
            return {"username": cred["username"], "password": cred.get("password") or ""}
    return None


class DockerRuntime:
    """Runs, inspects and removes the Docker containers behind container groups."""

    def __init__(self, docker_host: str | None, instance_id: str):
        self.docker_host = docker_host or os.environ.get("DOCKER_HOST")
        self.instance_id = instance_id
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                self._client = (docker.DockerClient(base_url=self.docker_host)
                                if self.docker_host else docker.from_env())
            return self._client

    def check_image(self, image: str, credentials: list[dict], group: str) -> None:
        """Raise InaccessibleImage unless the registry serves ``image`` to these credentials
        (ACI checks the image when the PUT arrives: InaccessibleImage, a recorded error).

        The credentials are those whose ``server`` is the image's registry host
        (/work/shared/reference/azure/containerInstance-2023-05-01.json, ImageRegistryCredential:
        server "without a protocol", username, password): a registry that wants a login and has
        no entry, or a wrong password, is refused by the registry itself, which the check asks."""
        try:
            self.client.api.inspect_distribution(image, auth_config=auth_for(image, credentials))
        except (APIError, DockerException) as exc:
            # Only a registry counts: an image that merely sits in the local engine would
            # not be reachable by the cloud either.
            raise bad_request(
                "InaccessibleImage",
                f"The image '{image}' in container group '{group}' is not accessible. Please "
                "check the image and registry credential.") from exc

    def pull(self, image: str, credentials: list[dict]) -> None:
        """Pull ``image`` (a digest or tag reference) with the matching credentials."""
        self.client.images.pull(image, auth_config=auth_for(image, credentials))

    def platform(self, image: str) -> tuple[str, str]:
        """(os, architecture) from the config of a pulled image."""
        attrs = self.client.api.inspect_image(image)
        return (attrs.get("Os") or "").lower(), (attrs.get("Architecture") or "").lower()

    def run(self, group_id: str, name: str, spec: dict, ip: str, restart_policy: str,
            instance: str) -> str:
        """Create and start one container of a group; returns the Docker id."""
        props = spec["properties"]
        env = {e["name"]: (e.get("secureValue") if e.get("secureValue") is not None
                           else e.get("value") or "")
               for e in props.get("environmentVariables") or []}
        env["MODELPORT_HOST"] = ip
        resources = props["resources"]
        amount = {**resources["requests"], **{k: v for k, v in (resources.get("limits") or {})
                                              .items() if v is not None}}
        kwargs = dict(
            image=props["image"], name=f"aci-{self.instance_id[:8]}-{instance}-{name}",
            network_mode="host", environment=env,
            labels={LABEL: LABEL_VALUE, INSTANCE_LABEL: self.instance_id,
                    GROUP_LABEL: group_id, CONTAINER_LABEL: name},
            entrypoint=props.get("command") or None,
            # The engine refuses more CPUs than the host has; ACI sizes still pass validation.
            nano_cpus=int(min(float(amount["cpu"]), os.cpu_count() or 1) * 1e9),
            mem_limit=f"{int(float(amount['memoryInGB']) * 1024)}m")
        if _RESTART[restart_policy]:
            kwargs["restart_policy"] = _RESTART[restart_policy]
        container = self.client.containers.create(**kwargs)
        try:
            container.start()
        except APIError:
            container.remove(force=True)  # never leave a half-made container behind
            raise
        return container.id

    def inspect(self, docker_id: str | None) -> dict | None:
        """Docker's inspect document, or None once the container is gone."""
        if not docker_id:
            return None
        try:
            return self.client.api.inspect_container(docker_id)
        except NotFound:
            return None

    def stop_and_remove(self, docker_id: str | None, timeout: int = 5) -> dict | None:
        """Stop a container, return its last inspect document, then remove it."""
        if not docker_id:
            return None
        try:
            self.client.api.stop(docker_id, timeout=timeout)
            attrs = self.client.api.inspect_container(docker_id)
            self.client.api.remove_container(docker_id, force=True)
            return attrs
        except NotFound:
            return None
        except APIError as exc:
            if exc.status_code == 409:  # another request is already removing it
                return None
            raise

    def restart(self, docker_id: str) -> None:
        """Restart a container in place (liveness probe failure)."""
        self.client.api.restart(docker_id, timeout=2)

    def exec_ok(self, docker_id: str, command: list[str]) -> bool:
        """Whether ``command`` exits 0 inside the container (exec probes)."""
        try:
            return self.client.api.exec_inspect(
                self._exec(docker_id, command))["ExitCode"] == 0
        except (APIError, NotFound):
            return False

    def _exec(self, docker_id: str, command: list[str]) -> str:
        exec_id = self.client.api.exec_create(docker_id, command)["Id"]
        self.client.api.exec_start(exec_id)
        return exec_id

    def logs(self, docker_id: str | None, tail: int | None, timestamps: bool) -> str:
        """The container's combined output, as ListLogs returns it."""
        if not docker_id:
            return ""
        try:
            raw = self.client.api.logs(docker_id, stdout=True, stderr=True,
                                       tail=tail if tail is not None else "all",
                                       timestamps=timestamps)
        except NotFound:
            return ""
        return raw.decode("utf-8", errors="replace")

    def events(self, since: dt.datetime, until: dt.datetime):
        """Docker events of this emulator's containers in [since, until] (blocks until then)."""
        return self.client.events(decode=True, since=since, until=until, filters={
            "type": "container", "label": f"{INSTANCE_LABEL}={self.instance_id}"})

    def remove_all(self) -> int:
        """Remove every container this emulator instance created; returns how many."""
        removed = 0
        try:
            found = self.client.containers.list(
                all=True, filters={"label": f"{INSTANCE_LABEL}={self.instance_id}"})
        except DockerException:
            return 0
        for container in found:
            try:
                container.remove(force=True)
                removed += 1
            except NotFound:
                pass
        return removed

    def close(self) -> None:
        """Close the Docker client."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

