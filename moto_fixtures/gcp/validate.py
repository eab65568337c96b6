"""Request validation for Cloud Run services: names, labels, the revision template."""

from __future__ import annotations

import re

from .errors import ApiError, invalid
from .limits import CloudRunLimits
from .protojson import duration_seconds
from .resources import check_resources

SERVICE_ID = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
ANNOTATION_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
RESERVED_PREFIXES = ("run.googleapis.com", "cloud.googleapis.com", "serving.knative.dev",
                     "autoscaling.knative.dev")
RESERVED_ENV = {"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"}
MAX_LABELS = 64
MAX_ENV = 1000
MAX_ENV_NAME = 32768
MAX_SERVICE_ID = 49  # "fewer than 50 characters"
MAX_DESCRIPTION = 512
PORT_NAMES = {"http1", "h2c"}
STARTUP_PROBE_MAX_S = 240
LIVENESS_PROBE_MAX_S = 3600

# distribution/reference grammar: [domain/]path[:tag][@digest]
_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_REF = re.compile(
    rf"^(?:{_DOMAIN}/)?{_PATH}(?:/{_PATH})*(?::[\w][\w.-]{{0,127}})?(?:@sha256:[0-9a-f]{{64}})?$")


def check_service_id(service_id: str) -> None:
    """Service ids: lowercase letters, digits, hyphens; a letter first; no trailing hyphen; < 50."""
    # The API's field violation on CreateServiceRequest.service_id: "only lowercase, digits, and
    # hyphens; must begin with letter, and cannot end with hyphen; must be less than 50
    # characters" (quoted in pulumi/pulumi-gcp#3167).
    if not service_id or len(service_id) > MAX_SERVICE_ID or not SERVICE_ID.match(service_id):
        raise invalid(
            f"Invalid value '{service_id}' for service_id: it must begin with a letter, contain "
            "only lowercase letters, digits and hyphens, not end with a hyphen, and be fewer "
            "than 50 characters.", "service_id")


def check_labels(labels: dict, field: str) -> None:
    """Label keys/values: lowercase, <= 63 characters, keys start with a letter, <= 64 labels."""
    # https://cloud.google.com/run/docs/configuring/labels -> the Resource Manager label
    # requirements (https://cloud.google.com/resource-manager/docs/creating-managing-labels).
    if len(labels) > MAX_LABELS:
        raise invalid(f"Too many labels: {len(labels)} (maximum {MAX_LABELS}).", field)
    for key, value in labels.items():
        if not LABEL_KEY.match(key):
            raise invalid(f"Invalid label key '{key}': keys must start with a lowercase letter "
                          "and contain only lowercase letters, digits, '_' and '-' (at most 63 "
                          "characters).", field)
        if not LABEL_VALUE.match(value):
            raise invalid(f"Invalid value for label '{key}': values contain only lowercase "
                          "letters, digits, '_' and '-' (at most 63 characters).", field)


def check_annotations(annotations: dict, field: str) -> None:
    """Kubernetes-style annotation keys; system namespaces are refused."""
    # revision_template.proto / service.proto, annotations: "Cloud Run API v2 does not support
    # annotations with run.googleapis.com, cloud.googleapis.com, serving.knative.dev, or
    # autoscaling.knative.dev namespaces, and they will be rejected."
    for key in annotations:
        prefix, _, name = key.rpartition("/")
        if any(prefix == p or prefix.endswith("." + p) for p in RESERVED_PREFIXES):
            raise invalid(f"Annotation '{key}' is not supported: Cloud Run API v2 does not "
                          f"support annotations in the '{prefix}' namespace.", field)
        if not ANNOTATION_NAME.match(name) or len(prefix) > 253:
            raise invalid(f"Invalid annotation key '{key}'.", field)


def check_service(service: dict, service_id: str, limits: CloudRunLimits) -> None:
    """Validate every user-set field of a Service (raises ApiError on the first violation)."""
    check_service_id(service_id)
    if len(service.get("description", "")) > MAX_DESCRIPTION:
        raise invalid(f"description is limited to {MAX_DESCRIPTION} characters.",
                      "service.description")
    check_labels(service.get("labels", {}), "service.labels")
    check_annotations(service.get("annotations", {}), "service.annotations")
    scaling = service.get("scaling") or {}
    if scaling.get("minInstanceCount", 0) < 0:
        raise invalid("scaling.min_instance_count must not be negative.",
                      "service.scaling.min_instance_count")
    if "template" not in service:
        raise invalid("template is required.", "service.template")
    check_template(service["template"], service_id, limits)


def check_template(template: dict, service_id: str, limits: CloudRunLimits) -> None:
    """Validate a RevisionTemplate."""
    field = "service.template"
    revision = template.get("revision")
    if revision is not None:
        check_revision_name(revision, service_id)
    check_labels(template.get("labels", {}), f"{field}.labels")
    check_annotations(template.get("annotations", {}), f"{field}.annotations")
    check_scaling(template.get("scaling") or {}, f"{field}.scaling")
    timeout = duration_seconds(template.get("timeout"))
    top = limits.request_timeout["max_s"]
    if timeout is not None and not 0 < timeout <= top:
        raise invalid(f"timeout must be between 1s and {top}s (got {template['timeout']}).",
                      f"{field}.timeout")
    check_containers(template, limits)


def check_revision_name(revision: str, service_id: str) -> None:
    """Explicit revision names: a DNS label prefixed with '<service>-'."""
    # The API's errors: "The revision name must be prefixed by the name of the enclosing Service
    # ... with a trailing -" and "only lowercase, digits, and hyphens; must begin with letter,
    # and may not end with hyphen; must be less than 64 characters" (pipe-cd/pipecd#5688).
    field = "service.template.revision"
    if not revision.startswith(service_id + "-") or len(revision) == len(service_id) + 1:
        raise invalid(f"Revision name '{revision}' must be prefixed by the name of the "
                      f"enclosing Service followed by a hyphen: '{service_id}-'.", field)
    if len(revision) > 63 or not DNS_LABEL.match(revision):
        raise invalid(f"Invalid revision name '{revision}': it must contain only lowercase "
                      "letters, digits and hyphens, end with a letter or digit and be at most "
                      "63 characters.", field)


def check_scaling(scaling: dict, field: str) -> None:
    """Instance counts are non-negative and min <= max."""
    # vendor_settings.proto RevisionScaling (min/max_instance_count); the API refuses min > max.
    low, high = scaling.get("minInstanceCount", 0), scaling.get("maxInstanceCount", 0)
    if low < 0 or high < 0:
        raise invalid("Instance counts must not be negative.", field)
    if high and low > high:
        raise invalid(f"min_instance_count ({low}) must be less than or equal to "
                      f"max_instance_count ({high}).", f"{field}.min_instance_count")


def check_containers(template: dict, limits: CloudRunLimits) -> None:
    """Exactly one serving container (sidecars: one port among several; not run here)."""
    # https://cloud.google.com/run/docs/deploying#sidecars: one ingress container, the only one
    # with a port; a template without containers is refused (RevisionTemplate.containers).
    containers = template.get("containers") or []
    field = "service.template.containers"
    if not containers:
        raise invalid("template.containers: at least one container is required.", field)
    if len(containers) > 1:
        with_ports = [c for c in containers if c.get("ports")]
        if len(with_ports) != 1:
            raise invalid("When multiple containers are specified, exactly one of them must "
                          "specify a port (the ingress container).", field)
        raise ApiError("UNIMPLEMENTED", "This emulator runs one container per revision; "
                       "sidecar containers are not supported.", field)
    for index, container in enumerate(containers):
        check_container(container, template, limits, f"{field}[{index}]")


def check_container(container: dict, template: dict, limits: CloudRunLimits, field: str) -> None:
    """Image reference, name, ports, environment, probes and sizes of one container."""
    # Image: the distribution reference grammar (github.com/distribution/reference); name: a
    # DNS_LABEL (k8s.min.proto Container.name).
    image = container.get("image", "")
    if not image:
        raise invalid("Container image is required.", f"{field}.image")
    if not IMAGE_REF.match(image):
        raise invalid(f"Invalid image reference '{image}': expected "
                      "[registry/]repository[:tag] or [registry/]repository@sha256:<64 hex>.",
                      f"{field}.image")
    if container.get("name") and not DNS_LABEL.match(container["name"]):
        raise invalid(f"Invalid container name '{container['name']}'.", f"{field}.name")
    check_ports(container.get("ports") or [], f"{field}.ports")
    check_env(container.get("env") or [], f"{field}.env")
    check_probe(container.get("startupProbe"), STARTUP_PROBE_MAX_S, f"{field}.startup_probe")
    check_probe(container.get("livenessProbe"), LIVENESS_PROBE_MAX_S, f"{field}.liveness_probe")
    check_resources(container, template, limits, f"{field}.resources")


def check_ports(ports: list, field: str) -> None:
    """At most one port, 1..65535, named http1 or h2c when named."""
    # k8s.min.proto Container.ports: "Only a single port can be specified"; ContainerPort:
    # "0 < container_port < 65536"; name
    # "If specified, used to specify which protocol to use. Allowed values are "http1" and "h2c"."
    if len(ports) > 1:
        raise invalid("Only a single port can be specified per container.", field)
    for port in ports:
        number = port.get("containerPort", 0)
        if not 0 < number < 65536:
            raise invalid(f"Invalid container port {number}: it must be between 1 and 65535.",
                          f"{field}.container_port")
        if port.get("name") and port["name"] not in PORT_NAMES:
            raise invalid(f"Invalid port name '{port['name']}': allowed values are 'http1' and "
                          "'h2c'.", f"{field}.name")


def check_env(env: list, field: str) -> None:
    """Names non-empty, without '=', not reserved, not X_GOOGLE_*, unique; at most 1000."""
    # k8s.min.proto EnvVar.name ("Must not exceed 32768 characters"); reserved names: the
    # container runtime contract (https://cloud.google.com/run/docs/container-contract#env-vars).
    if len(env) > MAX_ENV:
        raise invalid(f"Too many environment variables: {len(env)} (maximum {MAX_ENV}).", field)
    seen = set()
    for var in env:
        name = var.get("name", "")
        if not name or "=" in name or len(name) > MAX_ENV_NAME:
            raise invalid(f"Invalid environment variable name '{name}'.", field)
        if name in RESERVED_ENV or name.startswith("X_GOOGLE_"):
            raise invalid(f"The following reserved env names were provided: {name}. These "
                          "values are automatically set by the system.", field)
        if name in seen:
            raise invalid(f"Environment variable '{name}' is specified more than once.", field)
        seen.add(name)
        secret = (var.get("valueSource") or {}).get("secretKeyRef")
        if secret is not None and not secret.get("secret"):
            raise invalid(f"Environment variable '{name}': secret_key_ref.secret is required.",
                          field)


def check_probe(probe: dict | None, max_s: int, field: str) -> None:
    """Exactly one probe action; timeout <= period; documented bounds."""
    # k8s.min.proto Probe: initial delay and period at most 240 (startup) / 3600 (liveness),
    # period >= 1, failure_threshold >= 1. The proto disagrees with itself on timeout vs. period
    # ("Must be smaller than period_seconds" / period "greater or equal than timeout_seconds");
    # Cloud Run's own default startup probe has both at 240 s, so equal is accepted.
    if not probe:
        return
    actions = [k for k in ("httpGet", "tcpSocket", "grpc") if k in probe]
    if len(actions) != 1:
        raise invalid("Exactly one of http_get, tcp_socket or grpc must be specified.", field)
    period = probe.get("periodSeconds", 10)
    timeout = probe.get("timeoutSeconds", 1)
    if not 1 <= period <= max_s or not 0 <= probe.get("initialDelaySeconds", 0) <= max_s:
        raise invalid(f"Probe period and initial delay must be at most {max_s} seconds "
                      "(period at least 1).", field)
    if not 1 <= timeout <= period:
        raise invalid("Probe timeout_seconds must be at least 1 and not greater than "
                      "period_seconds.", field)
    if probe.get("failureThreshold", 1) < 1:
        raise invalid("Probe failure_threshold must be at least 1.", field)
