"""Long-running work behind ARM operations: provision, tear down and stop container groups.

Each function runs in a worker thread. A group's ``generation`` changes when a newer request
(update, delete) supersedes the work, so a stale worker removes what it created and stops.
"""
from __future__ import annotations

import hashlib

import threading
from concurrent.futures import ThreadPoolExecutor

from docker.errors import DockerException

from .model import Group, add_event, now_iso
from .render import terminated
from .runtime import DockerRuntime


class Superseded(Exception):
    """A newer request replaced the work in progress."""


class UnsupportedPlatform(Exception):
    """The image's config names an OS/architecture Container Instances does not run."""


# ACI runs x64 (linux/amd64) images only: "Are ARM64 (arm64) container images supported? No. Azure
# Container Instances currently supports only x64 (AMD64) container images ... the container may
# fail to start" (container-instances-faq, MicrosoftDocs/azure-compute-docs pull request 478). The
# group is accepted and then fails, as a container that cannot start does (ContainerGroupsGet_Failed
# example: provisioningState Failed after the pull); the platform is read from the image config.
RUNNABLE_PLATFORM = ("linux", "amd64")


def _check(group: Group, generation: int) -> None:
    if group.generation != generation:
        raise Superseded()


def provision(group: Group, generation: int, runtime: DockerRuntime,
              lock: threading.RLock, id_map: dict) -> dict | None:
    """Pull and start every container of ``group``; returns an ARM error dict or None."""
    creds = group.props.get("imageRegistryCredentials") or []
    try:
        with lock:
            _check(group, generation)
            group.provisioning_state = "Creating"
        for spec in group.container_specs():
            _start_container(group, generation, spec, creds, runtime, lock, id_map)
        with lock:
            _check(group, generation)
            group.provisioning_state = "Succeeded"
            group.stopped = False
        return None
    except Superseded:
        return None
    except (DockerException, UnsupportedPlatform) as exc:
        error = {"code": "ContainerGroupDeploymentFailed",
                 "message": f"The container group '{group.name}' failed to start: "
                            f"{_first_line(exc)}"}
        with lock:
            if group.generation == generation:
                group.provisioning_state = "Failed"
                add_event(group.events, "Failed", error["message"], "Warning")
        return error


def _start_container(group: Group, generation: int, spec: dict, creds: list,
                     runtime: DockerRuntime, lock: threading.RLock, id_map: dict) -> None:
    name, image = spec["name"], spec["properties"]["image"]
    record = group.containers[name]
    with lock:
        add_event(record.events, "Pulling", f'pulling image "{image}"')
    try:
        runtime.pull(image, creds)
    except DockerException:
        with lock:
            add_event(record.events, "Failed", f'Failed to pull image "{image}"', "Warning")
        raise
    with lock:
        _check(group, generation)
        add_event(record.events, "Pulled", f'Successfully pulled image "{image}"')
    platform = runtime.platform(image)
    if platform != RUNNABLE_PLATFORM:
        message = (f'Failed to start container {name}: image "{image}" is built for {"/".join(platform)}; '
                   f'Container Instances runs {"/".join(RUNNABLE_PLATFORM)} (x64) images only')
        with lock:
            add_event(record.events, "Failed", message, "Warning")
        raise UnsupportedPlatform(message)
    # group names are unique per resource group only: the Docker name carries a hash of the id
    instance = f"{group.name}-{hashlib.sha1(group.id.lower().encode()).hexdigest()[:6]}-{generation}"
    docker_id = runtime.run(group.id, name, spec, group.ip, group.restart_policy, instance)
    with lock:
        id_map[docker_id] = (group, name)
        if group.generation != generation:
            runtime.stop_and_remove(docker_id, timeout=0)
            raise Superseded()
        record.docker_id = docker_id
        record.final_state = None
        record.last_exit = None
        add_event(record.events, "Created", "Created container")
        add_event(record.events, "Started", "Started container")


def stop_containers(group: Group, runtime: DockerRuntime, lock: threading.RLock,
                    reason: str = "Killing", records: dict | None = None) -> None:
    """Stop and remove every container, keeping its last state and logs for instanceView."""
    with lock:
        records = group.containers if records is None else records
        targets = [(name, rec, rec.docker_id) for name, rec in records.items()
                   if rec.docker_id]
    def one(item):
        name, record, docker_id = item
        with lock:
            add_event(record.events, reason, f"Killing container with id {docker_id[:12]}.")
        record.saved_logs = runtime.logs(docker_id, None, False)
        attrs = runtime.stop_and_remove(docker_id)
        with lock:
            record.docker_id = None
            record.final_state = (terminated(attrs["State"]) if attrs else
                                  {"state": "Terminated", "finishTime": now_iso(),
                                   "exitCode": 0, "detailStatus": "Stopped"})
    if targets:
        with ThreadPoolExecutor(max_workers=len(targets)) as pool:
            list(pool.map(one, targets))


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or ["error"])[0][:300]
