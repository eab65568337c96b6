"""The only module that calls the Docker SDK: a swarm manager's services, tasks and logs.

Every Docker failure becomes a :class:`~modelport.errors.ProviderError`; an engine that does not
answer, a conflicting concurrent update and a 5xx from the manager are retryable.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from modelport.errors import ProviderError

from .translate import NANO, TAG_DEPLOYMENT

PROVIDER = "swarm"
#: Docker Engine API version spoken (max_replicas_per_node needs 1.40, service status 1.41)
API_VERSION = "1.41"


@contextmanager
def docker_errors(action: str) -> Iterator[None]:
    """Turn the SDK's exceptions into ProviderError naming ``action``."""
    import docker.errors
    import requests

    try:
        yield
    except docker.errors.NotFound as exc:
        raise ProviderError(PROVIDER, action, f"not found: {_explain(exc)}") from None
    except docker.errors.APIError as exc:
        status = exc.status_code or 0
        text = _explain(exc)
        retryable = status >= 500 or status == 409 or "out of sequence" in text
        raise ProviderError(PROVIDER, action, text, retryable=retryable) from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise ProviderError(PROVIDER, action, f"the Docker engine does not answer ({type(exc).__name__})",
                            retryable=True, hint="check targets.NAME.docker_host / DOCKER_HOST") from None
    except docker.errors.DockerException as exc:  # e.g. a malformed docker_host URL
        hint = ("pip install 'modelport-swarm[ssh]'" if "paramiko" in str(exc)
                else "check targets.NAME.docker_host / DOCKER_HOST")
        raise ProviderError(PROVIDER, action, _explain(exc), hint=hint) from None


def _explain(exc: Any) -> str:
    return str(getattr(exc, "explanation", None) or exc).strip()


class SwarmClient:
    """One swarm manager's API (``docker_host`` or DOCKER_HOST / the default socket)."""

    def __init__(self, docker_host: str | None) -> None:
        import docker

        where = docker_host or "DOCKER_HOST/default socket"
        with docker_errors(f"connect to the swarm manager at {where}"):
            # a fixed API version: no round trip at construction (an unreachable engine then
            # fails below as "does not answer"), and 1.41 (Docker 20.10) has everything used here.
            # ssh:// goes through the system's ssh client (its config, keys and agent).
            self.sdk = docker.DockerClient(base_url=docker_host, timeout=60, version=API_VERSION,
                                           use_ssh_client=docker_host.startswith("ssh://")) if docker_host \
                else docker.from_env(timeout=60, version=API_VERSION)
            swarm = self.sdk.info().get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise ProviderError(PROVIDER, "connect to the swarm manager",
                                f"the engine at {where} is not a swarm manager "
                                f"(swarm state: {swarm.get('LocalNodeState') or 'inactive'})",
                                hint="run `docker swarm init` there, or point docker_host at a manager")
        self.api = self.sdk.api

    # -- reads --------------------------------------------------------------------------------------
    def services(self, labels: Mapping[str, str | None]) -> list[dict[str, Any]]:
        """Services carrying every label of ``labels`` (None: the key with any value)."""
        wanted = [k if v is None else f"{k}={v}" for k, v in labels.items()] or [TAG_DEPLOYMENT]
        with docker_errors("list services"):
            return self.api.services(filters={"label": wanted}, status=True)

    def tasks(self, service_id: str) -> list[dict[str, Any]]:
        with docker_errors("list tasks"):
            return self.api.tasks(filters={"service": service_id})

    def has_image(self, image: str) -> bool:
        import docker.errors

        with docker_errors("inspect image"):
            try:
                self.api.inspect_image(image)
                return True
            except docker.errors.ImageNotFound:
                return False

    def logs(self, service_id: str, tail: int) -> str:
        with docker_errors("read service logs"):
            chunks = self.api.service_logs(service_id, stdout=True, stderr=True, tail=tail, timestamps=True)
            return b"".join(chunks).decode(errors="replace")

    # -- writes -------------------------------------------------------------------------------------
    def create(self, spec: Mapping[str, Any]) -> str:
        """Create the service described by translate.service_spec; returns its ID."""
        template, kwargs = _to_sdk(spec)
        with docker_errors(f"create service {spec['name']}"):
            return self.api.create_service(template, name=spec["name"], **kwargs)["ID"]

    def update(self, service: Mapping[str, Any], spec: Mapping[str, Any], labels: Mapping[str, str]) -> None:
        """Replace a service's whole spec (Swarm rolls its tasks); the name cannot change."""
        template, kwargs = _to_sdk(spec)
        kwargs["labels"] = dict(labels)
        with docker_errors(f"update service {service['Spec']['Name']}"):
            self.api.update_service(service["ID"], service["Version"]["Index"], template,
                                    name=service["Spec"]["Name"], **kwargs)

    def set_labels(self, service: Mapping[str, Any], labels: Mapping[str, str]) -> None:
        """Change only the service's labels: its tasks keep running untouched."""
        with docker_errors(f"label service {service['Spec']['Name']}"):
            self.api.update_service(service["ID"], service["Version"]["Index"], labels=dict(labels),
                                    fetch_current_spec=True)

    def remove(self, service_id: str) -> None:
        """Remove a service; a service already gone is fine."""
        import docker.errors

        with docker_errors("remove service"):
            try:
                self.api.remove_service(service_id)
            except docker.errors.NotFound:
                pass

    def inspect(self, service_id: str) -> dict[str, Any] | None:
        import docker.errors

        with docker_errors("inspect service"):
            try:
                return self.api.inspect_service(service_id)
            except docker.errors.NotFound:
                return None


def _to_sdk(spec: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """translate's plain data -> docker.types objects for create/update_service."""
    from docker import types

    hc = spec["healthcheck"]
    container = types.ContainerSpec(
        image=spec["image"], args=spec["args"], env=dict(spec["env"]), labels=dict(spec["container_labels"]),
        stop_signal="SIGTERM", stop_grace_period=spec["stop_grace_period_s"] * NANO,
        healthcheck=types.Healthcheck(test=hc["test"], interval=hc["interval_s"] * NANO,
                                      timeout=hc["timeout_s"] * NANO, retries=hc["retries"],
                                      start_period=hc["start_period_s"] * NANO))
    limits, reservations = spec["resources"]["limits"], spec["resources"]["reservations"]
    resources = types.Resources(cpu_limit=limits.get("nano_cpus"), mem_limit=limits.get("memory_bytes"),
                                cpu_reservation=reservations.get("nano_cpus"),
                                mem_reservation=reservations.get("memory_bytes"))
    restart = spec["restart"]
    template = types.TaskTemplate(
        container, resources=resources, networks=list(spec["networks"]),
        restart_policy=types.RestartPolicy(condition=restart["condition"], delay=restart["delay_s"] * NANO,
                                           max_attempts=restart["max_attempts"]),
        placement=types.Placement(constraints=spec["placement"]["constraints"] or None,
                                  maxreplicas=spec["placement"]["max_replicas_per_node"]))
    update = spec["update"]
    kwargs = {
        "labels": dict(spec["labels"]),
        "mode": types.ServiceMode("replicated", replicas=spec["replicas"]),
        "update_config": types.UpdateConfig(parallelism=update["parallelism"], order=update["order"],
                                            failure_action=update["failure_action"],
                                            monitor=update["monitor_s"] * NANO),
        "rollback_config": types.RollbackConfig(parallelism=update["parallelism"], order=update["order"],
                                                failure_action="pause"),
    }
    return template, kwargs
