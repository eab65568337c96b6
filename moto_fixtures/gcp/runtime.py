"""The data plane: revisions as containers on the local Docker engine (host networking).

Once ready, a container gets restart policy "always": an instance that crashes then is started
again by the engine (same address and port), as Cloud Run replaces a crashed instance;
one that fails its liveness probe is restarted (liveness.py).

Every instance gets its own loopback address (MODELPORT_HOST) and a free port (PORT), so two
revisions never collide even when the image binds 0.0.0.0. Containers carry labels naming the
emulator instance, so teardown finds and removes every one of them.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

import docker
import docker.errors
import httpx

from .liveness import LivenessMonitor
from .probes import ProbeSpec, probe_once, startup_probe

LOG = logging.getLogger(__name__)
LABEL_EMULATOR = "modelport.emulator"
LABEL_INSTANCE = "modelport.emulator.instance"
LABEL_SERVICE = "modelport.gcp.service"
LABEL_REVISION = "modelport.gcp.revision"
LABEL_SERVICE_UID = "modelport.gcp.service-uid"  # a re-created service has a new uid
EMULATOR_NAME = "gcp-cloudrun"
DEFAULT_PORT = 8080
SUPPORTED_PLATFORM = "linux/amd64"


@dataclass
class Instance:
    """A running revision container and where it listens."""

    container_id: str
    name: str
    host: str
    port: int

    @property
    def url(self) -> str:
        """Base URL of the instance."""
        return f"http://{self.host}:{self.port}"


class StartFailure(Exception):
    """A revision could not start: `reason` is a Condition reason, `message` user-facing."""

    def __init__(self, reason: str, message: str, revision_reason: bool = False):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.revision_reason = revision_reason


class AddressPool:
    """Distinct 127.0.0.x addresses for concurrently running instances."""

    def __init__(self, first: int = 2, last: int = 254):
        self._cycle = itertools.cycle(range(first, last + 1))
        self._used: set[str] = set()
        self._lock = threading.Lock()

    def take(self) -> str:
        """A loopback address no running instance of this emulator uses."""
        with self._lock:
            for _ in range(300):
                host = f"127.0.0.{next(self._cycle)}"
                if host not in self._used:
                    self._used.add(host)
                    return host
        raise RuntimeError("no free loopback address left")

    def give_back(self, host: str) -> None:
        """Release an address."""
        with self._lock:
            self._used.discard(host)


def free_port(host: str) -> int:
    """A port free on every address (so an image that ignores MODELPORT_HOST still fits)."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        port = sock.getsockname()[1]
    with socket.socket() as sock:
        sock.bind((host, port))
    return port


class DockerRuntime:
    """Starts, probes and removes revision containers."""

    def __init__(self, docker_host: str | None = None, secrets: dict | None = None):
        base_url = docker_host or os.environ.get("DOCKER_HOST")
        self.client = docker.DockerClient(base_url=base_url) if base_url else docker.from_env()
        self.instance_id = uuid.uuid4().hex[:12]
        self.addresses = AddressPool()
        self.secrets = secrets if secrets is not None else {}
        self.closing = threading.Event()  # set at teardown: pending probes give up at once
        self.liveness = LivenessMonitor(self.client, self.closing)

    def labels(self, owner: str = "", revision: str = "", owner_uid: str = "") -> dict:
        """Labels put on every container this emulator creates (owner: full service name)."""
        labels = {LABEL_EMULATOR: EMULATOR_NAME, LABEL_INSTANCE: self.instance_id}
        if owner:
            labels[LABEL_SERVICE] = owner
        if owner_uid:
            labels[LABEL_SERVICE_UID] = owner_uid
        if revision:
            labels[LABEL_REVISION] = revision
        return labels

    def ensure_image(self, image: str) -> None:
        """Pull `image` by its reference unless the engine already has it."""
        try:
            self.client.images.get(image)
            return
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError:
            pass
        try:
            self.client.images.pull(image)
        except docker.errors.APIError as exc:
            raise StartFailure("CONTAINER_MISSING", f"Image '{image}' not found. "
                               f"({getattr(exc, 'explanation', None) or exc})") from None

    def check_platform(self, image: str, revision: str) -> None:
        """Cloud Run runs Linux x86_64 executables only: "Executables in the container image must
        be compiled for Linux 64-bit. Cloud Run specifically supports the Linux x86_64 ABI
        format", and a multi-architecture image's list "must include linux/amd64" (container
        runtime contract, https://cloud.google.com/run/docs/reference/container-contract). The
        image config's os/architecture decide (a list without linux/amd64 fails the pull)."""
        attrs = self.client.images.get(image).attrs
        platform = f"{attrs.get('Os') or '?'}/{attrs.get('Architecture') or '?'}"
        if platform != SUPPORTED_PLATFORM:
            raise StartFailure("HEALTH_CHECK_CONTAINER_ERROR",
                               f"Revision '{revision}' is not ready and cannot serve traffic. The "
                               f"user-provided container failed to start: image '{image}' is built "
                               f"for {platform}; Cloud Run runs {SUPPORTED_PLATFORM} (Linux x86_64) "
                               "executables only.", revision_reason=True)

    def start(self, owner: str, revision: str, template: dict, owner_uid: str = "") -> Instance:
        """Run the revision's container and wait for its startup probe; raise StartFailure.

        `owner` is the service's full name projects/P/locations/L/services/S.
        """
        project, service = owner.split("/")[1], owner.rsplit("/", 1)[-1]
        container = template["containers"][0]
        self.ensure_image(container["image"])
        self.check_platform(container["image"], revision)
        host = self.addresses.take()
        try:
            port = free_port(host)
            env = self.environment(container, service, revision, project, host, port)
            labels = self.labels(owner, revision, owner_uid)
            instance = self._run(container, revision, env, host, port, labels)
        except docker.errors.APIError as exc:
            self.addresses.give_back(host)
            raise StartFailure("INTERNAL", f"Revision '{revision}' is not ready and cannot serve "
                               f"traffic. The container could not be created: "
                               f"{getattr(exc, 'explanation', None) or exc}") from None
        except BaseException:
            self.addresses.give_back(host)
            raise
        try:
            self._wait_ready(instance, container, revision)
        except StartFailure:
            # Kept (stopped) so `docker logs` still shows why it failed; removed with the service.
            self.stop(instance, remove=False)
            raise
        # Only a ready instance is restarted when it crashes; during startup an exit is a failure.
        try:
            self.client.api.update_container(instance.container_id,
                                             restart_policy={"Name": "always"})
        except docker.errors.APIError as exc:  # it died right after its probe passed
            LOG.warning("could not set the restart policy of %s: %s", instance.name, exc)
        self.liveness.watch(instance, container)
        return instance

    def environment(self, container: dict, service: str, revision: str, project: str,
                    host: str, port: int) -> dict:
        """Template env (secrets resolved) plus what Cloud Run injects."""
        env = {}
        for var in container.get("env") or []:
            ref = (var.get("valueSource") or {}).get("secretKeyRef")
            env[var["name"]] = self._secret(ref, project) if ref else var.get("value", "")
        env.update({"PORT": str(port), "MODELPORT_HOST": host, "K_SERVICE": service,
                    "K_REVISION": revision, "K_CONFIGURATION": service})
        return env

    def _secret(self, ref: dict, project: str) -> str:
        name = ref["secret"]
        short = name.rsplit("/", 1)[-1]
        version = ref.get("version") or "latest"
        for key in (name, f"projects/{project}/secrets/{short}", short):
            if key in self.secrets:
                found = _secret_version(self.secrets[key], version)
                if found is not None:
                    return found
        raise StartFailure("SECRETS_ACCESS_CHECK_FAILED",
                           f"Secret projects/{project}/secrets/{short}/versions/{version} was not "
                           "found.")

    def _run(self, container: dict, revision: str, env: dict, host: str, port: int,
             labels: dict) -> Instance:
        name = f"cloudrun-{revision}-{uuid.uuid4().hex[:6]}"
        created = self.client.containers.run(
            container["image"], name=name, detach=True, network_mode="host",
            entrypoint=container.get("command") or None, command=container.get("args") or None,
            working_dir=container.get("workingDir") or None, environment=env,
            labels=labels)
        return Instance(created.id, name, host, port)

    def _wait_ready(self, instance: Instance, container: dict, revision: str) -> None:
        spec = startup_probe(container)
        deadline = time.monotonic() + spec.budget_seconds
        time.sleep(spec.initial_delay)
        with httpx.Client(timeout=spec.timeout) as http:
            while True:
                state = self._state(instance)
                if _has_exited(state):
                    raise StartFailure("HEALTH_CHECK_CONTAINER_ERROR",
                                       not_started_message(revision, instance, state, spec),
                                       revision_reason=True)
                if probe_once(http, spec, instance.host, instance.port):
                    return
                if time.monotonic() > deadline or self.closing.is_set():
                    raise StartFailure("HEALTH_CHECK_CONTAINER_ERROR",
                                       not_started_message(revision, instance, None, spec),
                                       revision_reason=True)
                time.sleep(0.2)

    def _state(self, instance: Instance) -> dict:
        try:
            return self.client.api.inspect_container(instance.container_id)["State"]
        except docker.errors.NotFound:
            return {"Status": "dead", "ExitCode": -1}

    def stop(self, instance: Instance, remove: bool = True) -> None:
        """Stop an instance (SIGTERM, then kill after 5 s) and free its address."""
        self.liveness.forget(instance)
        if self.closing.is_set():  # teardown removes every container anyway
            self.addresses.give_back(instance.host)
            return
        try:
            box = self.client.containers.get(instance.container_id)
            box.stop(timeout=5)
            if remove:
                box.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:  # e.g. removal already in progress at teardown
            LOG.warning("could not stop %s: %s", instance.name, exc)
        finally:
            self.addresses.give_back(instance.host)

    def remove_containers(self, owner_uid: str | None = None, revision: str | None = None) -> int:
        """Remove this emulator's containers (of a service or revision, or all); return how many."""
        filters = [f"{LABEL_INSTANCE}={self.instance_id}"]
        if owner_uid:
            filters.append(f"{LABEL_SERVICE_UID}={owner_uid}")
        if revision:
            filters.append(f"{LABEL_REVISION}={revision}")
        boxes = self.client.containers.list(all=True, filters={"label": filters})
        for box in boxes:
            try:
                box.remove(force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                LOG.warning("could not remove %s: %s", box.name, exc)
        return len(boxes)

    def close(self) -> None:
        """Remove every container and close the Docker client."""
        self.closing.set()
        self.remove_containers()
        self.client.close()


def _secret_version(value, version: str) -> str | None:
    """A secret's value at `version`; "latest" is the highest numbered (or "latest") one."""
    if not isinstance(value, dict):
        return value
    if version in value:
        return value[version]
    if version == "latest" and value:
        numbered = sorted((int(k), v) for k, v in value.items() if k.isdigit())
        return numbered[-1][1] if numbered else None
    return None


def _has_exited(state: dict) -> bool:
    """True once the main process has exited (no restart policy applies during startup)."""
    return state.get("Status") in ("exited", "dead")


def declared_port(container: dict) -> int:
    """The port the template declares (Cloud Run's default is 8080)."""
    ports = container.get("ports") or []
    return ports[0].get("containerPort", DEFAULT_PORT) if ports else DEFAULT_PORT


def not_started_message(revision: str, instance: Instance, state: dict | None,
                        spec: ProbeSpec) -> str:
    """Cloud Run's wording, with where to read the container's logs instead of a Logs URL."""
    what = ("failed the configured startup probe checks" if spec.explicit else
            f"failed to start and listen on the port defined provided by the PORT={instance.port} "
            "environment variable within the allocated timeout")
    exited = f" The container exited with code {state.get('ExitCode')}." if state else ""
    return (f"Revision '{revision}' is not ready and cannot serve traffic. The user-provided "
            f"container {what}.{exited} Logs for this revision might contain more information."
            f"\n\nLogs: docker logs {instance.name}")
