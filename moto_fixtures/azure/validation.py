"""Validation of a container group PUT body, from the 2023-05-01 API definition and ACI's rules.

Structural rules (required properties, JSON types) answer like ARM's deserializer
(InvalidRequestContent); semantic rules answer with Container Instances' own codes. Each check
cites its source: "swagger X.y" is definition X, property y of
shared/reference/azure/containerInstance-2023-05-01.json; "limits.toml" the [azure.*] tables of
shared/reference/limits.toml (each with its own source page).
"""
from __future__ import annotations

import re

from .dns import scope_of
from .errors import ArmError, bad_request, missing_property, wrong_type
from .limits import AciLimits
from .model import normalize_location

# The regex ACI quotes in its InvalidContainerName message (recorded errors, see errors.py).
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# "only lowercase letters, numbers and hyphens. The first character must be a letter. The last
# character must be a letter or number. The value must be between 5 and 63 characters long."
_DNS_LABEL = re.compile(r"^[a-z][a-z0-9-]{3,61}[a-z0-9]$")
_MAX_NAME = 63
_OS_TYPES = ("Windows", "Linux")
_RESTART = ("Always", "OnFailure", "Never")
_IP_TYPES = ("Public", "Private")
_PROTOCOLS = ("TCP", "UDP")
_SKUS = ("Standard", "Dedicated", "Confidential")
_PRIORITIES = ("Regular", "Spot")
_PORT_RANGE = (1, 65535)
_IDENTITY_TYPES = ("SystemAssigned", "UserAssigned", "SystemAssigned, UserAssigned", "None")


def check_group_name(name: str) -> None:
    """1-63 chars of lowercase letters, digits and '-', not starting/ending with '-', no '--'."""
    # https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
    # (Microsoft.ContainerInstance containerGroups: 1-63, lowercase letters, numbers and hyphens,
    # can't start or end with a hyphen, consecutive hyphens aren't allowed); the swagger's
    # ContainerGroupNameParameter states no pattern, so the documented rule is the one enforced.
    if len(name) > _MAX_NAME or not _DNS1123.match(name) or "--" in name:
        raise bad_request(
            "InvalidContainerGroupName",
            f"The container group name '{name}' is invalid. The container group name must "
            f"contain no more than {_MAX_NAME} characters and must match the regex "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?' (e.g. 'my-name'); consecutive hyphens are not "
            "allowed.")


def _obj(value, path: str) -> dict:
    if not isinstance(value, dict):
        raise wrong_type(path, "an object")
    return value


def _list(value, path: str) -> list:
    if not isinstance(value, list):
        raise wrong_type(path, "an array")
    return value


def _require(obj: dict, prop: str, path: str):
    if obj.get(prop) is None:
        raise missing_property(prop, path)
    return obj[prop]


def _number(value, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise wrong_type(path, "a number")
    return float(value)


def _integer(value, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(path, "an integer")
    return value


def _enum(value, allowed: tuple, code: str, what: str, group: str) -> None:
    if value not in allowed:
        raise bad_request(code, f"The '{what}' for container group '{group}' is invalid. "
                                f"The value must be one of '{','.join(allowed)}'.")


def validate_group(name: str, body: dict, limits: AciLimits) -> None:
    """Raise :class:`ArmError` for the first rule the PUT body of group ``name`` breaks."""
    check_group_name(name)
    body = _obj(body, "")
    if not body.get("location"):  # ARM: every tracked resource needs a location (swagger Resource.location)
        raise bad_request("LocationRequired",
                          "The location property is required for this definition.")
    props = _obj(_require(body, "properties", ""), "properties")
    # swagger ContainerGroupProperties: osType is required, enum Windows/Linux
    _enum(props.get("osType") or "<null>", _OS_TYPES, "InvalidOsType", "osType",
          name if props.get("osType") is not None else "<null>")
    containers = _list(_require(props, "containers", "properties"), "properties.containers")
    if not containers:  # swagger ContainerGroupProperties: containers is required
        raise missing_property("containers", "properties")
    _check_count(containers, name, limits)
    # swagger ContainerGroupProperties.restartPolicy, .sku, .priority enums
    for field, allowed, code in (("restartPolicy", _RESTART, "InvalidRestartPolicy"),
                                 ("sku", _SKUS, "InvalidSku"),
                                 ("priority", _PRIORITIES, "InvalidPriority")):
        if props.get(field) is not None:
            _enum(props[field], allowed, code, field, name)
    seen: set[str] = set()
    for i, container in enumerate(containers):
        _check_container(container, f"properties.containers[{i}]", name, seen)
    _check_registry_credentials(_attached_identities(body), props, name)
    _check_resources(containers, props, name, normalize_location(body["location"]), limits)
    _check_ip_address(props, containers, name, limits)


def _check_count(containers: list, group: str, limits: AciLimits) -> None:
    maximum = limits.linux["max_containers_per_group"]  # limits.toml linux.max_containers_per_group
    if len(containers) > maximum:
        raise bad_request("ContainerGroupContainersLimitExceeded",
                          f"The number of containers '{len(containers)}' in container group "
                          f"'{group}' exceeds the limit '{maximum}'.")


def _check_container(container, path: str, group: str, seen: set[str]) -> None:
    container = _obj(container, path)
    cname = _require(container, "name", path)
    props = _obj(_require(container, "properties", path), f"{path}.properties")
    # swagger Container: name and properties required; the name rule is the one ACI's
    # InvalidContainerName message states
    if not isinstance(cname, str) or len(cname) > _MAX_NAME or not _DNS1123.match(cname):
        raise bad_request(
            "InvalidContainerName",
            f"The container name '{cname}' in container group '{group}' is invalid. The "
            f"container name must contain no more than {_MAX_NAME} characters and must match "
            "the regex '[a-z0-9]([-a-z0-9]*[a-z0-9])?' (e.g. 'my-name').")
    if cname in seen:  # container names identify containers (swagger x-ms-identifiers: name)
        raise bad_request("DuplicateContainerName",
                          f"The container name '{cname}' in container group '{group}' is "
                          "duplicated. Container names must be unique within a group.")
    seen.add(cname)
    _require(props, "image", f"{path}.properties")  # swagger ContainerProperties: image required
    requests = ((props.get("resources") or {}).get("requests")) or {}
    # swagger ResourceRequests: cpu and memoryInGB required (ResourceRequestsNotSpecified)
    if requests.get("cpu") is None or requests.get("memoryInGB") is None:
        raise bad_request(
            "ResourceRequestsNotSpecified",
            f"The resource requests are not specified in container '{cname}' of contain group "
            f"'{group}'. Both memory and CPU requests are required since API version "
            "'2017-07-01-preview'.")
    for key in ("cpu", "memoryInGB"):  # swagger ResourceRequests: numbers; a request must be > 0
        if _number(requests[key], f"{path}.properties.resources.requests.{key}") <= 0:
            raise bad_request("InvalidResourceRequests",
                              f"The '{key}' request of container '{cname}' in container group "
                              f"'{group}' must be greater than 0.")
    for j, port in enumerate(_list(props.get("ports") or [], f"{path}.properties.ports")):
        _check_port(port, f"{path}.properties.ports[{j}]", group)
    for j, env in enumerate(_list(props.get("environmentVariables") or [],
                                  f"{path}.properties.environmentVariables")):
        # swagger EnvironmentVariable: name required
        _require(_obj(env, f"{path}.properties.environmentVariables[{j}]"), "name",
                 f"{path}.properties.environmentVariables[{j}]")
    for probe in ("livenessProbe", "readinessProbe"):
        http_get = (props.get(probe) or {}).get("httpGet")
        if http_get is not None:  # swagger ContainerHttpGet: port required
            _require(_obj(http_get, f"{path}.properties.{probe}.httpGet"), "port",
                     f"{path}.properties.{probe}.httpGet")


def _check_port(port, path: str, group: str) -> None:
    # swagger Port/ContainerPort: port required, an integer; a TCP/UDP port is 1-65535
    number = _integer(_require(_obj(port, path), "port", path), f"{path}.port")
    low, high = _PORT_RANGE
    if not low <= number <= high:
        raise bad_request("InvalidContainerPort",
                          f"The port '{number}' in container group '{group}' is invalid. "
                          f"The port must be between {low} and {high}.")
    if port.get("protocol") is not None:  # swagger Port.protocol enum TCP/UDP
        _enum(port["protocol"], _PROTOCOLS, "InvalidProtocol", "protocol", group)


def _attached_identities(body: dict) -> set[str]:
    """User-assigned identity ids attached to the group (lowercase: ARM ids are case-insensitive)."""
    identity = body.get("identity")
    if identity is None:
        return set()
    identity = _obj(identity, "identity")
    kind = identity.get("type")
    if kind is not None and kind not in _IDENTITY_TYPES:
        # containerInstance-2023-05-01.json ContainerGroupIdentity.type: a closed enum
        # (x-ms-enum modelAsString false), so another value does not deserialize
        raise wrong_type("identity.type", f"one of '{', '.join(_IDENTITY_TYPES)}'")
    users = _obj(identity.get("userAssignedIdentities") or {}, "identity.userAssignedIdentities")
    return {k.lower() for k in users} if "UserAssigned" in (kind or "") else set()


def _check_registry_credentials(attached: set[str], props: dict, group: str) -> None:
    creds = _list(props.get("imageRegistryCredentials") or [],
                  "properties.imageRegistryCredentials")
    for i, cred in enumerate(creds):
        # swagger ImageRegistryCredential: server required
        _require(_obj(cred, f"properties.imageRegistryCredentials[{i}]"), "server",
                 f"properties.imageRegistryCredentials[{i}]")
        # ImageRegistryCredential.identity names an identity of the group: it must be one of
        # identity.userAssignedIdentities (ContainerGroupIdentity). A system-assigned identity
        # does not exist yet when the image is pulled, so it is refused the same way. Code and
        # message as ARM answers: https://github.com/MicrosoftDocs/azure-docs/issues/117644
        # (how-to: https://learn.microsoft.com/azure/container-instances/using-azure-container-registry-mi)
        if cred.get("identity") is not None and str(cred["identity"]).lower() not in attached:
            raise bad_request("InvalidImageRegistryIdentity",
                              f"The identity in the 'imageRegistryCredentials' of container group "
                              f"'{group}' not found in container group identity list.")


def _unavailable(location: str, cpu: float, memory: float, gpu: str = "",
                 vnet: bool = False, hint: str = "") -> ArmError:
    # The real message for a size ACI cannot place; the hint names the documented maximum.
    requested = f"'{cpu:g}' CPU '{memory:g}' GB memory 'Linux' OS{gpu}"
    if vnet:
        requested += " virtual network"
    return ArmError(409, "ServiceUnavailable",
                    f"The requested resource is not available in the location '{location}' at "
                    "this moment. Please retry with a different resource request or in another "
                    f"location. Resource requested: {requested}.{hint}")


def _check_resources(containers: list, props: dict, group: str, location: str,
                     limits: AciLimits) -> None:
    # limits.toml [azure.container_instances.linux] max_cpu / max_memory_gb (vnet_* in a subnet),
    # per container group; GPU sizes in [azure.container_instances.gpu]
    cpu = sum(float(c["properties"]["resources"]["requests"]["cpu"]) for c in containers)
    memory = sum(float(c["properties"]["resources"]["requests"]["memoryInGB"])
                 for c in containers)
    _check_limits_within_total(containers, group, cpu, memory)
    gpus = [c["properties"]["resources"]["requests"].get("gpu") for c in containers]
    gpus = [g for g in gpus if g]
    vnet = bool(props.get("subnetIds"))
    if not gpus:
        max_cpu, max_mem = (("vnet_max_cpu", "vnet_max_memory_gb") if vnet
                            else ("max_cpu", "max_memory_gb"))
        if cpu > limits.linux[max_cpu] or memory > limits.linux[max_mem]:
            raise _unavailable(location, cpu, memory, vnet=vnet, hint=(
                f" The maximum per container group is '{limits.linux[max_cpu]}' CPU "
                f"'{limits.linux[max_mem]}' GB memory."))
        return
    _check_gpu(gpus, group, location, cpu, memory, vnet, limits)


def _check_limits_within_total(containers: list, group: str, cpu: float, memory: float) -> None:
    # swagger ResourceLimits: a container's limit may not exceed the group's total request
    # (ContainerLimitGreaterThanContainerGroupTotalRequest, a recorded ACI error)
    for c in containers:
        lim = c["properties"]["resources"].get("limits") or {}
        for key, label, total in (("cpu", "Cpu", cpu), ("memoryInGB", "MemoryInGB", memory)):
            if lim.get(key) is not None and float(lim[key]) > total:
                raise bad_request(
                    "ContainerLimitGreaterThanContainerGroupTotalRequest",
                    f"The '{label}' limit '{float(lim[key]):g}' in container '{c['name']}' is "
                    f"greater than the total request '{total:g}' of container group '{group}'.")


def _check_gpu(gpus: list, group: str, location: str, cpu: float, memory: float, vnet: bool,
               limits: AciLimits) -> None:
    for i, gpu in enumerate(gpus):  # swagger GpuResource: count and sku required, sku enum
        _require(_obj(gpu, "gpu"), "count", "resources.requests.gpu")
        _require(gpu, "sku", "resources.requests.gpu")
        if gpu["sku"] not in limits.gpu["api_sku_enum"]:
            _enum(gpu["sku"], tuple(limits.gpu["api_sku_enum"]), "InvalidGpuSku", "gpu sku",
                  group)
    sku = gpus[0]["sku"]
    count = sum(int(g["count"]) for g in gpus)
    size = limits.gpu_size(sku, count)
    gpu_text = f" '{count}' '{sku}' GPU"
    # limits.toml gpu: only available_skus are offered (K80/P100 retired), in the documented
    # counts, never in a virtual network; then that GPU size's cpu/memory maxima
    if (sku not in limits.gpu["available_skus"] or size is None
            or (vnet and not limits.gpu["vnet_supported"])
            or any(g["sku"] != sku for g in gpus)):
        raise _unavailable(location, cpu, memory, gpu_text, vnet, hint=(
            f" GPU SKUs offered: {', '.join(limits.gpu['available_skus'])} with counts "
            f"{limits.gpu['counts']}; GPU groups cannot join a virtual network."))
    if cpu > size["max_cpu"] or memory > size["max_memory_gb"]:
        raise _unavailable(location, cpu, memory, gpu_text, vnet, hint=(
            f" The maximum with {count} {sku} GPU is '{size['max_cpu']}' CPU "
            f"'{size['max_memory_gb']}' GB memory."))


def _check_ip_address(props: dict, containers: list, group: str, limits: AciLimits) -> None:
    ip = props.get("ipAddress")
    if ip is None:
        return
    ip = _obj(ip, "properties.ipAddress")
    # swagger IpAddress: ports and type required, type enum Public/Private
    ports = _list(_require(ip, "ports", "properties.ipAddress"), "properties.ipAddress.ports")
    ip_type = _require(ip, "type", "properties.ipAddress")
    _enum(ip_type, _IP_TYPES, "InvalidIpAddressType", "ipAddress type", group)
    if not ports:
        raise bad_request("MissingIpAddressPorts",
                          f"The ports in the 'ipAddress' of container group '{group}' cannot be "
                          "empty.")
    maximum = limits.linux["max_ports_per_ip"]  # limits.toml linux.max_ports_per_ip
    if len(ports) > maximum:
        raise bad_request("IpAddressPortsExceedLimit",
                          f"The number of ports '{len(ports)}' in the 'ipAddress' of container "
                          f"group '{group}' exceeds the limit '{maximum}'.")
    exposed = {(p["port"], p.get("protocol") or "TCP") for c in containers
               for p in (c["properties"].get("ports") or [])}
    for i, port in enumerate(ports):
        _check_port(port, f"properties.ipAddress.ports[{i}]", group)
        # a group port is one of its containers' ports (swagger IpAddress.ports: "exposed on the
        # container group"; the containers' ContainerPort is what they open)
        if (port["port"], port.get("protocol") or "TCP") not in exposed:
            raise bad_request("IpAddressPortNotExposed",
                              f"The port '{port['port']}' in the 'ipAddress' of container group "
                              f"'{group}' is not exposed by any container of the group.")
    # a private IP lives in a subnet (PrivateIPAddressNotSupported, a recorded ACI error)
    if ip_type == "Private" and not props.get("subnetIds"):
        raise bad_request("PrivateIPAddressNotSupported",
                          f"IP Address type in container group '{group}' is invalid. Private IP "
                          "address is only supported when network profile is defined.")
    scope_of(ip, group)  # swagger IpAddress.autoGeneratedDomainNameLabelScope enum
    label = ip.get("dnsNameLabel")
    # the rule ACI's InvalidDnsNameLabel message states (quoted next to _DNS_LABEL)
    if label is not None and not _DNS_LABEL.match(label):
        raise bad_request("InvalidDnsNameLabel",
                          f"The DNS name label '{label}' in container group '{group}' is "
                          "invalid. It can contain only lowercase letters, numbers and "
                          "hyphens. The first character must be a letter. The last character "
                          "must be a letter or number. The value must be between 5 and 63 "
                          "characters long.")
