"""Checks on Microsoft.App request bodies, each next to the source that states the rule.

Sources: the 2026-07-01 REST specification and examples in ``shared/reference/azure-apps/``
(``openapi-2026-07-01.json``) and the documented limits restated with their URLs in
``shared/reference/azure-apps/LIMITS.md`` (cited below as ``LIMITS.md §N``). Error codes that no
public copy shows are listed in :data:`MODELLED_CODES`, named after the service's pattern.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from .errors import ArmError, bad_request, missing_property

MODELLED_CODES = frozenset({
    "ContainerAppInvalidName", "InvalidContainerAppResources", "ContainerAppInvalidTraffic",
    "ContainerAppInvalidLabel", "ContainerAppInvalidScale", "ContainerAppSecretInvalid",
    "ContainerAppInvalidRevisionSuffix", "ContainerAppInvalidIngress", "ManagedEnvironmentNotFound",
    "ContainerAppInvalidEnvironmentName", "ContainerAppNameConflict", "ContainerAppOperationInProgress",
    "ContainerAppRevisionSuffixConflict", "ManagedEnvironmentHasContainerApps",
})

# Microsoft.App/containerApps names: 2-32 characters, lowercase letters, digits and hyphens, start
# with a letter, end with a letter or digit, no "--" (resource-name-rules, "Microsoft.App":
# https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftapp)
_APP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
# managedEnvironments: path pattern ^[-\w\._\(\)]+$ (openapi-2026-07-01.json, environmentName);
# the name-rules page adds 2-60 characters, alphanumerics and hyphens, start with a letter.
_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,58}[A-Za-z0-9]$")
# Labels and revision suffixes: lowercase letters, digits and "-", start with a letter, end with a
# letter or digit, no "--", at most 64 characters (LIMITS.md §3 "Label names", §5 "Suffix rules").
_LABEL = re.compile(r"^[a-z]([a-z0-9-]{0,62}[a-z0-9])?$")
# Secret names: lowercase alphanumerics, "-" or ".", starting and ending with an alphanumeric
# (https://learn.microsoft.com/azure/container-apps/manage-secrets, "Defining secrets").
_SECRET = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
# Consumption pairs: the cpu total x 2 = memory total (Gi), in 0.25 steps; up to 2 vCPU / 4 Gi on
# the Consumption plan, up to 4 vCPU / 8 Gi on the Consumption workload profile (LIMITS.md §1).
_STEP = Decimal("0.25")
MAX_CPU = {"ConsumptionOnly": Decimal(2), "WorkloadProfiles": Decimal(4)}
# Replicas: 0 <= minReplicas <= maxReplicas, 1 <= maxReplicas <= 1000 (LIMITS.md §4).
MAX_REPLICAS = 1000


def validate_environment(name: str, body: dict) -> None:
    """Refuse a managed environment PUT the service refuses."""
    if not _ENV_NAME.match(name) or "--" in name:
        raise bad_request("ContainerAppInvalidEnvironmentName",
                          f"Invalid managed environment name '{name}': 2-60 characters, letters, "
                          "digits and '-', starting with a letter and ending with a letter or digit.")
    _location(body)


def _location(body: dict) -> None:
    # location is required on tracked resources (common-types v5 TrackedResource.required)
    if not isinstance(body, dict) or not body.get("location"):
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")


def validate_app(name: str, body: dict, environment_mode: str) -> None:
    """Refuse a container app PUT the service refuses (before anything is stored)."""
    if not _APP_NAME.match(name) or "--" in name:
        raise bad_request("ContainerAppInvalidName",
                          f"Invalid ContainerApp name '{name}'. A name must consist of lower case "
                          "alphanumeric characters or '-', start with an alphabetic character, and "
                          "end with an alphanumeric character and cannot have '--'. The length "
                          "must not be more than 32 characters.")
    _location(body)
    props = body.get("properties")
    if not isinstance(props, dict):
        raise missing_property("properties", "")
    template = props.get("template")
    if not isinstance(template, dict) or not template.get("containers"):
        raise missing_property("containers", "properties.template")
    config = props.get("configuration") or {}
    secrets = _secrets(config.get("secrets") or [])
    _containers(template["containers"], secrets, environment_mode)
    _suffix(template.get("revisionSuffix"))
    _scale(template.get("scale") or {})
    mode = config.get("activeRevisionsMode", "Single")
    # enum Multiple|Single (openapi-2026-07-01.json, Configuration.activeRevisionsMode)
    if mode not in ("Multiple", "Single"):
        raise bad_request("InvalidRequestContent", f"activeRevisionsMode '{mode}' is not one of "
                          "'Multiple', 'Single'.", "properties.configuration.activeRevisionsMode")
    if config.get("ingress") is not None:
        _ingress(config["ingress"], mode)


def _containers(containers: list, secrets: set[str], environment_mode: str) -> None:
    cpu, memory = Decimal(0), Decimal(0)
    for index, container in enumerate(containers):
        where = f"properties.template.containers[{index}]"
        for prop in ("name", "image"):
            # BaseContainer: name and image are what a container is (ContainerApps_CreateOrUpdate)
            if not container.get(prop):
                raise missing_property(prop, where)
        resources = container.get("resources") or {}
        # defaults 0.25 vCPU / 0.5Gi (LIMITS.md §1, "Rules for each container")
        cpu += _amount(resources.get("cpu", 0.25), f"{where}.resources.cpu")
        memory += _amount(_gi(resources.get("memory", "0.5Gi"), where), f"{where}.resources.memory")
        for var in container.get("env") or []:
            ref = var.get("secretRef")
            if ref is not None and ref not in secrets:
                raise bad_request("ContainerAppSecretInvalid", f"Container '{container['name']}' "
                                  f"references secret '{ref}', which is not defined in "
                                  "properties.configuration.secrets.", f"{where}.env")
    _pair(cpu, memory, environment_mode)


def _amount(value, field: str) -> Decimal:
    # above 0 with at most two decimal places (LIMITS.md §1; spec: cpu double, memory string)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal(-1)
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise bad_request("InvalidContainerAppResources", f"'{value}' is not a valid {field}: it "
                          "must be greater than 0 with at most two decimal places.", field)
    return amount


def _gi(memory, where: str) -> str:
    # memory is written in Gi (LIMITS.md §1, "memory")
    if not isinstance(memory, str) or not memory.endswith("Gi"):
        raise bad_request("InvalidContainerAppResources", f"Memory '{memory}' must be given in Gi "
                          "(for example '0.5Gi').", f"{where}.resources.memory")
    return memory[:-2]


def _pair(cpu: Decimal, memory: Decimal, environment_mode: str) -> None:
    # the totals over all containers must form one row of the pair table (LIMITS.md §1)
    top = MAX_CPU[environment_mode]
    if cpu % _STEP or memory != cpu * 2 or cpu > top:
        raise bad_request(
            "InvalidContainerAppResources",
            f"The total requested CPU and memory resources for this application (CPU: {cpu:g}, "
            f"memory: {memory:g}Gi) is invalid. Total CPU and memory for all containers defined in "
            f"a Container App must add up to one of the following CPU - Memory combinations: "
            f"[cpu: 0.25, memory: 0.5Gi]; [cpu: 0.5, memory: 1.0Gi]; ... [cpu: {top:g}, memory: "
            f"{top * 2:g}Gi]", "properties.template.containers")


def _suffix(suffix) -> None:
    # LIMITS.md §5 "Suffix rules"
    if suffix is not None and (not _LABEL.match(suffix) or "--" in suffix):
        raise bad_request("ContainerAppInvalidRevisionSuffix", f"Invalid revision suffix "
                          f"'{suffix}': lowercase letters, digits and '-', starting with a letter, "
                          "ending with a letter or digit, no '--', at most 64 characters.",
                          "properties.template.revisionSuffix")


def _scale(scale: dict) -> None:
    # minReplicas >= 0, 1 <= maxReplicas <= 1000, min <= max (default max 10) (LIMITS.md §4)
    low, high = scale.get("minReplicas", 0), scale.get("maxReplicas", 10)
    if not (isinstance(low, int) and isinstance(high, int)) or low < 0 or not 1 <= high <= MAX_REPLICAS \
            or low > high:
        raise bad_request("ContainerAppInvalidScale", f"Invalid scale: minReplicas {low}, "
                          f"maxReplicas {high}; need 0 <= minReplicas <= maxReplicas and 1 <= "
                          f"maxReplicas <= {MAX_REPLICAS}.", "properties.template.scale")
    for rule in scale.get("rules") or []:
        http = rule.get("http") or {}
        value = (http.get("metadata") or {}).get("concurrentRequests")
        # concurrentRequests: minimum 1 (LIMITS.md §4 "Default rule")
        if value is not None and (not str(value).isdigit() or int(value) < 1):
            raise bad_request("ContainerAppInvalidScale", f"Scale rule '{rule.get('name')}': "
                              f"concurrentRequests '{value}' must be a whole number >= 1.",
                              "properties.template.scale.rules")


def _secrets(secrets: list) -> set[str]:
    names = set()
    for secret in secrets:
        name = secret.get("name") or ""
        if not _SECRET.match(name) or len(name) > 253:
            raise bad_request("ContainerAppSecretInvalid", f"Invalid secret name '{name}': lowercase "
                              "alphanumerics, '-' or '.', starting and ending with an alphanumeric.",
                              "properties.configuration.secrets")
        # a secret holds a value or a Key Vault reference read with a managed identity
        # (openapi-2026-07-01.json Secret: value | keyVaultUrl + identity; manage-secrets page)
        if bool(secret.get("value") is not None) == bool(secret.get("keyVaultUrl")):
            raise bad_request("ContainerAppSecretInvalid", f"Secret '{name}' must have either a "
                              "value or a keyVaultUrl.", "properties.configuration.secrets")
        if secret.get("keyVaultUrl") and not secret.get("identity"):
            raise bad_request("ContainerAppSecretInvalid", f"Secret '{name}' references Key Vault "
                              "and needs an identity ('system' or a user-assigned identity id).",
                              "properties.configuration.secrets")
        names.add(name)
    return names


def _ingress(ingress: dict, mode: str) -> None:
    port = ingress.get("targetPort")
    # targetPort: the port the container listens on (spec Ingress.targetPort, int32)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise bad_request("ContainerAppInvalidIngress", f"Ingress targetPort '{port}' must be a "
                          "port number 1-65535.", "properties.configuration.ingress.targetPort")
    traffic = ingress.get("traffic")
    if traffic:
        _traffic(traffic, mode)


def _traffic(traffic: list, mode: str) -> None:
    labels = set()
    total = 0
    for rule in traffic:
        weight = rule.get("weight", 0)
        # weight: int32 (spec TrafficWeight.weight); whole percentages 0-100 (traffic-splitting)
        if not isinstance(weight, int) or not 0 <= weight <= 100:
            raise _bad_traffic(f"weight '{weight}' must be a whole number 0-100")
        # each rule names its revision by name or follows the latest one (traffic-splitting)
        if bool(rule.get("revisionName")) == bool(rule.get("latestRevision")):
            raise _bad_traffic("each rule names exactly one of revisionName or latestRevision")
        label = rule.get("label")
        if label is not None:
            if not _LABEL.match(label) or "--" in label:
                raise bad_request("ContainerAppInvalidLabel", f"Invalid label '{label}': lowercase "
                                  "letters, digits and '-', starting with a letter, ending with a "
                                  "letter or digit, no '--', at most 64 characters.",
                                  "properties.configuration.ingress.traffic")
            # a label is on one revision at a time (LIMITS.md §3 "Label rules")
            if label in labels:
                raise bad_request("ContainerAppInvalidLabel", f"Label '{label}' is used more than once.",
                                  "properties.configuration.ingress.traffic")
            labels.add(label)
        total += weight
    # the weights of all rules add up to exactly 100 (LIMITS.md §3 "Splitting rules")
    if total != 100:
        raise _bad_traffic(f"the traffic weights add up to {total}; they must add up to 100")
    # splitting needs multiple revision mode; Single mode cannot use weights (LIMITS.md §2, §3)
    if mode == "Single" and any(r.get("revisionName") and r.get("weight", 0) for r in traffic):
        raise _bad_traffic("revision weights cannot be used in Single revision mode; set "
                           "activeRevisionsMode to Multiple")


def _bad_traffic(why: str) -> ArmError:
    return bad_request("ContainerAppInvalidTraffic", f"Invalid traffic configuration: {why}.",
                       "properties.configuration.ingress.traffic")
