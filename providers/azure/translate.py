"""Pure translation of a modelport revision into an ARM container group (api-version 2023-05-01).

Names and tags (Azure tag names may hold ':'; values up to 256 characters, so digests fit whole):

======================== =============================== ======================================
modelport                Azure                           example
======================== =============================== ======================================
revision rN              container group <deployment>-rN  iris-r3
TAG_DEPLOYMENT           tag modelport:deployment         iris
TAG_REVISION             tag modelport:revision           r3
TAG_DIGEST               tag modelport:digest             sha256:<64 hex>
TAG_CONFIG               tag modelport:config             the config hash
traffic (100% to one)    tag modelport:active = "<n>"     the group with the highest n serves
model version            tag modelport:model-version      1.0.0
======================== =============================== ======================================

ACI cannot split traffic, so "which revision serves" lives on the cloud as the ``modelport:active``
tag: a switch writes ``max + 1`` on the new group in ONE tag update (atomic), and the group with
the highest value is the deployment's endpoint. An in-place update keeps the group's name and
rewrites its tags, so revisions are found by their ``modelport:revision`` tag, not by name.
"""

from __future__ import annotations

from typing import Any

from modelport.errors import SpecError, UsageError
from modelport.provider import (REDACTED, TAG_CONFIG, TAG_DEPLOYMENT, TAG_DIGEST, TAG_REVISION, RevisionSpec,
                                client_side_secret)

from .settings import AzureSettings
from .sizes import load_limits, memory_gb

TAG_ACTIVE = "modelport:active"
TAG_MODEL_VERSION = "modelport:model-version"
CONTAINER = "model"
READY_PATH = "/v2/health/ready"
LIVE_PATH = "/v2/health/live"
RESERVED_ENV = ("PORT", "MODELPORT_HOST")

# Readiness (model loaded, 503 before): checked every 5 s. Liveness asks only whether the server
# answers (OIP /v2/health/live), never whether the model is loaded: a model that takes minutes to
# load (a big one, or a busy host) must not be restarted in a loop before it ever becomes ready.
# A hung server is restarted after 60 s of start-up and 3 failed checks 15 s apart.
READINESS_PROBE = {"httpGet": {"path": READY_PATH, "scheme": "http"}, "initialDelaySeconds": 1,
                   "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3, "successThreshold": 1}


def liveness_probe(port: int) -> dict[str, Any]:
    """The liveness probe of the serving container (see above)."""
    return {"httpGet": {"path": LIVE_PATH, "port": port, "scheme": "http"}, "initialDelaySeconds": 60,
            "periodSeconds": 15, "timeoutSeconds": 5, "failureThreshold": 3, "successThreshold": 1}


# -- names ------------------------------------------------------------------------------------------

def group_name(deployment: str, revision: str) -> str:
    """Container group of modelport revision ``rN`` (when it was created)."""
    return f"{deployment}-{revision}"


def dns_label(settings: AzureSettings, deployment: str, revision: str) -> str:
    """The DNS name label of a public group (unique per Azure region)."""
    return f"{settings.dns_label_prefix or deployment}-{revision}"


def group_path(settings: AzureSettings) -> str:
    return (f"/subscriptions/{settings.subscription_id}/resourceGroups/{settings.resource_group}"
            "/providers/Microsoft.ContainerInstance/containerGroups")


# -- parts ------------------------------------------------------------------------------------------

def environment(rev: RevisionSpec, reveal: bool = False) -> list[dict[str, str]]:
    """Plain env as ``value``, secrets as ``secureValue`` (shown as *** unless ``reveal``)."""
    out = [{"name": "PORT", "value": str(rev.port)}]
    for name in sorted({*rev.env, *rev.secrets}):
        if name in RESERVED_ENV:
            field = "env" if name in rev.env else "secrets"
            raise SpecError("", f"{field}.{name}", f"{name} is set by modelport on Container Instances")
        if name in rev.env:
            out.append({"name": name, "value": rev.env[name]})
        else:
            out.append({"name": name, "secureValue": client_side_secret(rev, name, reveal)})
    return out


def resources(rev: RevisionSpec) -> dict[str, Any]:
    """requests (cpu, memoryInGB, gpu) of the one container."""
    requests: dict[str, Any] = {"cpu": rev.size.cpu, "memoryInGB": memory_gb(rev.size.memory_mib,
                                                                             load_limits().memory_step_gb)}
    if rev.size.gpu:
        requests["gpu"] = {"count": rev.size.gpu, "sku": rev.size.gpu_type}
    return {"requests": requests}


def container(rev: RevisionSpec, reveal: bool = False) -> dict[str, Any]:
    """The serving container: image by digest, port, env, requests, probes."""
    if not rev.image.ref or "@sha256:" not in rev.image.ref:
        raise UsageError(f"revision {rev.revision}: the image {rev.image.digest} has no registry "
                         "reference by digest (push it first)")
    return {"name": CONTAINER, "properties": {
        "image": rev.image.ref, "ports": [{"port": rev.port, "protocol": "TCP"}],
        "environmentVariables": environment(rev, reveal), "resources": resources(rev),
        "readinessProbe": {**READINESS_PROBE, "httpGet": {**READINESS_PROBE["httpGet"], "port": rev.port}},
        "livenessProbe": liveness_probe(rev.port)}}


def ip_address(rev: RevisionSpec, settings: AzureSettings) -> dict[str, Any]:
    """Public IP with a DNS label, or a private IP when the target names a subnet. Labels are
    global per region across all customers, so ``<name>-rN`` alone would collide with anyone's;
    the label scope makes Azure hash it with the tenant/subscription/resource group (see
    ``AzureSettings.dns_label_scope``)."""
    ports = [{"port": rev.port, "protocol": "TCP"}]
    if settings.subnet_id:
        return {"type": "Private", "ports": ports}
    return {"type": "Public", "ports": ports, "dnsNameLabel": dns_label(settings, rev.deployment, rev.revision),
            "autoGeneratedDomainNameLabelScope": settings.dns_label_scope}


def registry_credentials(settings: AzureSettings, server: str, username: str | None,
                         password: str | None, reveal: bool = False) -> list[dict[str, str]]:
    """imageRegistryCredentials: the admin user (of the ACR or of a private registry override), or a
    managed identity (ACR only)."""
    if username:
        return [{"server": server, "username": username, "password": password if reveal else REDACTED}]
    if settings.acr_identity and settings.acr and not settings.registry:
        return [{"server": server, "identity": settings.acr_identity}]
    return []


def identity(credentials: list[dict[str, str]]) -> dict[str, Any] | None:
    """The group identity that makes ``imageRegistryCredentials[].identity`` usable: ACI pulls with
    an identity only when it is attached to the group (``ContainerGroupIdentity``
    ``userAssignedIdentities``; ARM answers InvalidImageRegistryIdentity otherwise)."""
    ids = sorted({c["identity"] for c in credentials if c.get("identity")})
    if not ids:
        return None
    return {"type": "UserAssigned", "userAssignedIdentities": {i: {} for i in ids}}


def tags(rev: RevisionSpec, active: int | None = None) -> dict[str, str]:
    """The modelport tags of a revision's group (``active``: its traffic marker, if any)."""
    out = {TAG_DEPLOYMENT: rev.deployment, TAG_REVISION: rev.revision, TAG_DIGEST: rev.image.digest,
           TAG_CONFIG: rev.config, TAG_MODEL_VERSION: rev.model_version}
    if active is not None:
        out[TAG_ACTIVE] = str(active)
    return out


def container_group(rev: RevisionSpec, settings: AzureSettings, *, active: int | None = None,
                    credentials: list[dict[str, str]] | None = None, reveal: bool = False) -> dict[str, Any]:
    """The whole ContainerGroup request body (ARM JSON)."""
    props: dict[str, Any] = {"containers": [container(rev, reveal)], "osType": "Linux",
                             "restartPolicy": settings.restart_policy, "sku": "Standard",
                             "ipAddress": ip_address(rev, settings)}
    if credentials:
        props["imageRegistryCredentials"] = credentials
    if settings.subnet_id:
        props["subnetIds"] = [{"id": settings.subnet_id}]
    body: dict[str, Any] = {"location": settings.location, "tags": tags(rev, active)}
    attached = identity(credentials or [])
    if attached:
        body["identity"] = attached
    return {**body, "properties": props}
