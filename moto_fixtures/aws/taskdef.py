"""What the ECS agent makes of a task definition: image, command, environment, secrets, health check."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_ECR_HOST = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")
_URL = re.compile(r"https?://[^\s'\"|;&]+")


class TaskStartError(RuntimeError):
    """The bridge could not start a service's task; the message is what ECS would put in stoppedReason."""


@dataclass(frozen=True)
class ContainerPlan:
    """How to run a service's essential container on the local engine."""

    task_definition_arn: str
    container_name: str
    image: str
    port: int | None
    environment: dict[str, str] = field(repr=False)
    entrypoint: list[str] | None = None
    command: list[str] | None = None
    health_path: str | None = None
    log_options: dict[str, str] | None = None  # the awslogs driver's options, when it is used
    unhealthy_after: float = 90.0  # seconds unhealthy before ECS stops the task


def essential_container(task_definition: dict) -> dict:
    """The container an ECS service cannot run without (the first essential one)."""
    containers = task_definition.get("containerDefinitions", [])
    for container in containers:
        if container.get("essential", True):
            return container
    raise TaskStartError("task definition has no essential container")


def container_port(container: dict, load_balancers: list[dict]) -> int | None:
    """The port the service's load balancer sends to, else the first port mapping."""
    for lb in load_balancers:
        if lb.get("containerName") == container.get("name") and lb.get("containerPort"):
            return int(lb["containerPort"])
    for mapping in container.get("portMappings", []):
        if mapping.get("containerPort"):
            return int(mapping["containerPort"])
    return None


def health_path(container: dict) -> str | None:
    """The HTTP path of a ``CMD-SHELL curl http://...`` style container health check, if any."""
    command = (container.get("healthCheck") or {}).get("command") or []
    match = _URL.search(" ".join(command))
    if not match:
        return None
    rest = match.group(0).split("://", 1)[1]
    return "/" + rest.split("/", 1)[1] if "/" in rest else "/"


def local_image(image: str, registry: str) -> str:
    """Point an ECR image URI at the ECR stand-in; any other reference is pulled as written."""
    if _ECR_HOST.match(image):
        return registry + "/" + image.split("/", 1)[1]
    return image


def resolve_secret(value_from: str, secretsmanager, ssm) -> str:
    """Resolve one ``secrets[].valueFrom`` the way the ECS agent does (Secrets Manager or SSM).

    Secrets Manager ARNs may carry ``:json-key:version-stage:version-id`` after the secret name.
    The error never contains the value.
    """
    parts = value_from.split(":")
    try:
        if len(parts) >= 7 and parts[2] == "secretsmanager":
            return _secretsmanager_value(parts, secretsmanager)
        name = value_from.split(":parameter", 1)[1] if ":parameter" in value_from else value_from
        reply = ssm.get_parameter(Name=name, WithDecryption=True)
        return reply["Parameter"]["Value"]
    except TaskStartError:
        raise
    except Exception as exc:  # noqa: BLE001 - becomes the task's stopped reason
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        raise TaskStartError(f"ResourceInitializationError: unable to pull secrets: "
                             f"{value_from}: {code}") from None


def _secretsmanager_value(parts: list[str], secretsmanager) -> str:
    arn = ":".join(parts[:7])
    json_key, stage, version = (parts[7:] + ["", "", ""])[:3]
    kwargs = {"SecretId": arn}
    if stage:
        kwargs["VersionStage"] = stage
    if version:
        kwargs["VersionId"] = version
    value = secretsmanager.get_secret_value(**kwargs)["SecretString"]
    if not json_key:
        return value
    try:
        return str(json.loads(value)[json_key])
    except (ValueError, KeyError, TypeError):
        raise TaskStartError(f"ResourceInitializationError: secret {arn} has no JSON key "
                             f"{json_key!r}") from None


#: runtimePlatform.cpuArchitecture -> the architecture an image config names (OCI image spec)
CPU_ARCHITECTURES = {"X86_64": "amd64", "ARM64": "arm64"}


def platform_error(task_definition: dict, image: str, image_os: str, image_arch: str) -> str | None:
    """Why the task's image cannot run on the platform the task definition asks for, or None.

    ``runtimePlatform.cpuArchitecture`` is X86_64 (the default) or ARM64
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RuntimePlatform.html); Fargate
    then runs the task on that architecture, and an image built for the other one cannot start
    (its entrypoint fails with "exec format error"). The image's ``os``/``architecture`` are read
    from its config (https://github.com/opencontainers/image-spec/blob/main/config.md#properties).
    The stopped reason below is this emulator's wording.
    """
    platform = task_definition.get("runtimePlatform") or {}
    cpu = platform.get("cpuArchitecture") or "X86_64"
    wanted = CPU_ARCHITECTURES.get(cpu)
    if wanted is None:
        return f"CannotStartContainerError: unknown runtimePlatform.cpuArchitecture {cpu!r}"
    if image_os != "linux" or image_arch != wanted:
        return (f"CannotStartContainerError: image {image} is built for {image_os}/{image_arch}, but the "
                f"task runs on linux/{wanted} (runtimePlatform.cpuArchitecture {cpu}): exec format error")
    return None


def plan_container(task_definition: dict, load_balancers: list[dict], registry: str,
                   secretsmanager, ssm, address: str) -> ContainerPlan:
    """Everything needed to start the service's task, secrets resolved, ``PORT``/``MODELPORT_HOST`` set."""
    container = essential_container(task_definition)
    port = container_port(container, load_balancers)
    env = {item["name"]: item.get("value", "") for item in container.get("environment", [])}
    for secret in container.get("secrets", []):
        env[secret["name"]] = resolve_secret(secret["valueFrom"], secretsmanager, ssm)
    if port is not None:
        env["PORT"] = str(port)
    env["MODELPORT_HOST"] = address
    return ContainerPlan(
        task_definition_arn=task_definition["taskDefinitionArn"],
        container_name=container["name"],
        image=local_image(container["image"], registry),
        port=port,
        environment=env,
        entrypoint=container.get("entryPoint") or None,
        command=container.get("command") or None,
        health_path=health_path(container),
        log_options=_awslogs_options(container),
        unhealthy_after=unhealthy_after(container),
    )


def unhealthy_after(container: dict) -> float:
    """How long a task may stay unhealthy before ECS replaces it: the health check's
    ``startPeriod + interval x retries`` (ECS defaults 0, 30 s, 3)."""
    check = container.get("healthCheck") or {}
    return float(check.get("startPeriod", 0) + check.get("interval", 30) * check.get("retries", 3))


def _awslogs_options(container: dict) -> dict[str, str] | None:
    config = container.get("logConfiguration") or {}
    if config.get("logDriver") != "awslogs":
        return None
    return dict(config.get("options") or {})
