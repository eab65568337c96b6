"""Values the real API fills in when a request leaves them out (so reads look like Cloud Run's)."""

from __future__ import annotations

import copy

from .limits import CloudRunLimits
from .traffic import DEFAULT_TRAFFIC

DEFAULT_MAX_INSTANCES = 100
DEFAULT_PORT = {"name": "http1", "containerPort": 8080}


def with_defaults(spec: dict, limits: CloudRunLimits, project_number: str) -> dict:
    """A copy of a Service spec with server defaults applied."""
    spec = copy.deepcopy(spec)
    spec.setdefault("ingress", "INGRESS_TRAFFIC_ALL")
    spec.setdefault("launchStage", "GA")
    if not spec.get("traffic"):
        spec["traffic"] = copy.deepcopy(DEFAULT_TRAFFIC)
    template = spec["template"]
    template.setdefault("timeout", f"{limits.request_timeout['default_s']}s")
    template.setdefault("maxInstanceRequestConcurrency", limits.concurrency["default"])
    template.setdefault("scaling", {}).setdefault("maxInstanceCount", DEFAULT_MAX_INSTANCES)
    template.setdefault("serviceAccount", f"{project_number}-compute@developer.gserviceaccount.com")
    for container in template.get("containers", []):
        container_defaults(container, limits)
    return spec


def container_defaults(container: dict, limits: CloudRunLimits) -> None:
    """Port, resources and the TCP startup probe Cloud Run sets by default."""
    ports = container.setdefault("ports", [dict(DEFAULT_PORT)])
    for port in ports:
        port.setdefault("name", "http1")
    if "resources" not in container:
        container["resources"] = {"cpuIdle": True, "startupCpuBoost": True}
    resource_limits = container["resources"].setdefault("limits", {})
    resource_limits.setdefault("cpu", f"{int(limits.cpu['default'] * 1000)}m")
    resource_limits.setdefault("memory", f"{limits.memory['default_mib']}Mi")
    container.setdefault("startupProbe", {
        "timeoutSeconds": 240, "periodSeconds": 240, "failureThreshold": 1,
        "tcpSocket": {"port": ports[0]["containerPort"]}})
