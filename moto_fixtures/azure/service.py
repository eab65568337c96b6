"""The emulated Microsoft.ContainerInstance resource provider (and resource groups).

Handlers return ``(status, body, headers)``. Mutations of container groups are ARM
long-running operations: the reply carries ``Azure-AsyncOperation`` and ``Retry-After`` and a
worker thread does the Docker work while the operation answers InProgress.
"""
from __future__ import annotations

import copy
import threading

from . import addresses, dns
from .actions import GroupActions
from .errors import ArmError, group_not_found, resource_group_not_found
from .lifecycle import provision, stop_containers
from .limits import AciLimits
from .model import ContainerRecord, Group, Operation, find_operation, normalize_location
from .render import group_json
from .runtime import DockerRuntime
from .validation import validate_group

API_VERSION = "2023-05-01"
RETRY_AFTER = "1"  # azure-core treats 0 as absent and would wait its 30 s default.
_IMMUTABLE = ("osType", "restartPolicy", "subnetIds", "sku")


class ArmService(GroupActions):
    """State and behaviour of the emulated ARM endpoint."""

    def __init__(self, runtime: DockerRuntime, limits: AciLimits, quotas: dict):
        self.runtime = runtime
        self.limits = limits
        self.quotas = quotas
        self.base_url = ""
        self.lock = threading.RLock()
        self.resource_groups: dict[tuple, dict] = {}
        self.groups: dict[tuple, Group] = {}
        self.operations: dict[str, Operation] = {}
        self.id_map: dict[str, tuple] = {}
        self.tenants: dict[str, str] = {}      # subscription (lower) -> tenant id
        self.foreign_fqdns: set[str] = set()   # DNS names held by other customers (outside the emulator)
        self._workers: list[threading.Thread] = []

    # -- resource groups -------------------------------------------------------------------
    def put_resource_group(self, sub: str, rg: str, body: dict):
        """Create or update a resource group."""
        if not (body or {}).get("location"):
            raise ArmError(400, "LocationRequired",
                           "The location property is required for this definition.")
        key = (sub.lower(), rg.lower())
        with self.lock:
            existed = key in self.resource_groups
            name = self.resource_groups[key]["name"] if existed else rg
            self.resource_groups[key] = {
                "id": f"/subscriptions/{sub}/resourceGroups/{name}", "name": name,
                "type": "Microsoft.Resources/resourceGroups",
                "location": normalize_location(body["location"]), "tags": body.get("tags") or {},
                "properties": {"provisioningState": "Succeeded"}}
            return (200 if existed else 201), copy.deepcopy(self.resource_groups[key]), {}

    def get_resource_group(self, sub: str, rg: str):
        """GET a resource group."""
        return 200, copy.deepcopy(self._rg(sub, rg)), {}

    def _rg(self, sub: str, rg: str) -> dict:
        with self.lock:
            found = self.resource_groups.get((sub.lower(), rg.lower()))
        if found is None:
            raise resource_group_not_found(rg)
        return found

    # -- container groups: reads ----------------------------------------------------------
    def _group(self, sub: str, rg: str, name: str) -> Group:
        self._rg(sub, rg)
        with self.lock:
            group = self.groups.get((sub.lower(), rg.lower(), name.lower()))
        if group is None:
            raise group_not_found(rg, name)
        return group

    def render(self, group: Group) -> dict:
        """The resource JSON of a group, with live container states."""
        with self.lock:
            ids = {name: rec.docker_id for name, rec in group.containers.items()}
        inspections = {name: self.runtime.inspect(i) for name, i in ids.items()}
        with self.lock:
            return group_json(group, inspections)

    def get_group(self, sub: str, rg: str, name: str):
        """GET one container group."""
        return 200, self.render(self._group(sub, rg, name)), {}

    def list_groups(self, sub: str, rg: str | None = None):
        """List groups of a subscription or of one resource group."""
        if rg is not None:
            self._rg(sub, rg)
        with self.lock:
            found = [g for (s, r, _), g in sorted(self.groups.items())
                     if s == sub.lower() and (rg is None or r == rg.lower())]
        return 200, {"value": [self.render(g) for g in found]}, {}

    # -- container groups: create or update -----------------------------------------------
    def put_group(self, sub: str, rg: str, name: str, body: dict):
        """Create or update a group: validate, then provision as a long-running operation."""
        self._rg(sub, rg)
        validate_group(name, body, self.limits)
        key = (sub.lower(), rg.lower(), name.lower())
        with self.lock:
            existing = self.groups.get(key)
            if existing is not None:
                self._check_update(existing, body)
            fqdn = self._check_dns(key, self._rg(sub, rg)["name"], body, existing)
            self._check_quota(key, body)
        for spec in body["properties"]["containers"]:
            self.runtime.check_image(spec["properties"]["image"],
                                     body["properties"].get("imageRegistryCredentials") or [],
                                     name)
        with self.lock:
            # again under this lock: a concurrent PUT may have taken the name meanwhile
            fqdn = self._check_dns(key, self._rg(sub, rg)["name"], body, existing)
            previous = dict(existing.containers) if existing else {}
            group = self._store(key, sub, rg, name, body, existing)
            group.fqdn, group.tenant = fqdn, dns.tenant_of(sub, self.tenants)
            op = self._begin(group, lambda gen: self._provision(group, gen, previous))
            reply = group_json(group, {})
        return (200 if existing else 201), reply, self._lro_headers(op)

    def _check_update(self, group: Group, body: dict) -> None:
        # One operation at a time per group: a PUT while one runs is refused (modelled:
        # ContainerGroupTransitioning, the code ACI uses for a group that is still changing).
        if group.busy_operation:
            raise _transitioning(group.name)
        new = body["properties"]
        # "Properties that require container delete": OS type, CPU/memory/GPU resources, restart
        # policy, subnet, sku cannot be updated in place; delete and create the group again
        # (https://learn.microsoft.com/azure/container-instances/container-instances-update)
        if normalize_location(body["location"]) != group.location:
            raise _change_not_allowed("location")
        for prop in _IMMUTABLE:
            if new.get(prop) != group.props.get(prop):
                raise _change_not_allowed(prop)
        old = {c["name"]: c["properties"]["resources"] for c in group.container_specs()}
        for c in new["containers"]:
            if c["name"] in old and c["properties"]["resources"] != old[c["name"]]:
                raise _change_not_allowed(f"containers['{c['name']}'].resources")

    def _check_dns(self, key: tuple, rg_name: str, body: dict, existing: Group | None) -> str | None:
        """The fqdn the body's DNS label gets; refused when any other group, of any customer,
        holds it in the region (labels are one namespace per region: see dns.py)."""
        ip = body["properties"].get("ipAddress") or {}
        label = ip.get("dnsNameLabel")
        if not label:
            return None
        location = normalize_location(body["location"])
        wanted = dns.fqdn(label, dns.scope_of(ip, key[2]), location, dns.tenant_of(key[0], self.tenants),
                          key[0], rg_name, existing.fqdn if existing else None)
        held = {g.fqdn for k, g in self.groups.items() if k != key and g.fqdn} | self.foreign_fqdns
        if wanted in held:
            raise dns.taken(label, key[2])
        return wanted

    def _check_quota(self, key: tuple, body: dict) -> None:
        # limits.toml [azure.container_instances.default_quotas]: groups and cores per region and
        # subscription (standard and V100 GPU cores, the latter 0 by default)
        location = normalize_location(body["location"])
        others = [g for k, g in self.groups.items()
                  if k != key and k[0] == key[0] and g.location == location]
        cpu = sum(float(c["properties"]["resources"]["requests"]["cpu"])
                  for c in body["properties"]["containers"])
        gpu = any(c["properties"]["resources"]["requests"].get("gpu")
                  for c in body["properties"]["containers"])
        checks = [("ContainerGroups", "standard_container_groups_per_region_per_subscription",
                   len(others), 1)]
        if gpu:
            checks.append(("StandardV100Cores", "v100_gpu_cores_per_region_per_subscription",
                           0, cpu))
        else:
            used = sum(float(c["properties"]["resources"]["requests"]["cpu"])
                       for g in others for c in g.container_specs())
            checks.append(("StandardCores", "standard_cores_per_region_per_subscription",
                           used, cpu))
        for quota, field, used, requested in checks:
            limit = self.quotas[field]
            if used + requested > limit:
                raise ArmError(409, "ContainerGroupQuotaReached",
                               f"Resource type 'Microsoft.ContainerInstance/containerGroups' "
                               f"container group quota '{quota}' exceeded in region "
                               f"'{location}'. Limit: '{limit:g}', Usage: '{used:g}' "
                               f"Requested: '{requested:g}'.")

    def _store(self, key, sub, rg, name, body, existing: Group | None) -> Group:
        body = copy.deepcopy(body)
        if existing is None:
            group = Group(sub, self._rg(sub, rg)["name"], name, body)
            ports = [p["port"] for p in (body["properties"].get("ipAddress") or {})
                     .get("ports", []) if (p.get("protocol") or "TCP") == "TCP"]
            group.ip = addresses.allocate(ports)
            self.groups[key] = group
        else:
            group = existing
            group.body = body
            group.generation += 1
            group.provisioning_state = "Pending"
        group.containers = {c["name"]: ContainerRecord() for c in body["properties"]["containers"]}
        return group

    def _provision(self, group: Group, generation: int, previous: dict):
        # An update replaces the containers: the old ones go first, they hold the address.
        stop_containers(group, self.runtime, self.lock, records=previous)
        return provision(group, generation, self.runtime, self.lock, self.id_map)

    # -- operations ------------------------------------------------------------------------
    def _begin(self, group: Group, work) -> Operation:
        """Start ``work(generation)`` in a worker thread behind a new ARM operation."""
        op = Operation(group.id, group.location)
        self.operations[op.id] = op
        group.busy_operation = op.id
        generation = group.generation

        def run():
            try:
                error = work(generation)
            except ArmError as exc:
                error = exc.body()["error"]
            except Exception as exc:  # noqa: BLE001 - any failure must end the operation
                error = {"code": "InternalServerError", "message": str(exc)[:300]}
            with self.lock:
                if group.busy_operation == op.id:
                    group.busy_operation = None
            op.finish(error)

        worker = threading.Thread(target=run, name=f"arm-op-{op.id[:8]}", daemon=True)
        self._workers.append(worker)
        worker.start()
        return op

    def _lro_headers(self, op: Operation) -> dict:
        url = (f"{self.base_url}/subscriptions/{op.resource_id.split('/')[2]}/providers/"
               f"Microsoft.ContainerInstance/locations/{op.location}/operations/{op.id}"
               f"?api-version={API_VERSION}")
        return {"Azure-AsyncOperation": url, "Retry-After": RETRY_AFTER}

    def operation_status(self, sub: str, location: str, op_id: str):
        """GET an Azure-AsyncOperation URL."""
        with self.lock:
            op = find_operation(self.operations, sub, op_id)
            group = self._find_by_id(op.resource_id)
            body = op.body(group.events if group else [])
        headers = {"Retry-After": RETRY_AFTER} if body["status"] == "InProgress" else {}
        return 200, body, headers

    def _find_by_id(self, resource_id: str) -> Group | None:
        parts = resource_id.split("/")
        return self.groups.get((parts[2].lower(), parts[4].lower(), parts[8].lower()))

    def join_workers(self, timeout: float = 30) -> None:
        """Wait for running operations (used at shutdown)."""
        for worker in list(self._workers):
            worker.join(timeout)


def _transitioning(name: str) -> ArmError:
    return ArmError(409, "ContainerGroupTransitioning",
                    f"The container group '{name}' is still transitioning, please retry later.")


def _change_not_allowed(prop: str) -> ArmError:
    return ArmError(409, "PropertyChangeNotAllowed",
                    f"Changing property '{prop}' is not allowed. Delete the container group "
                    "and create it again to change it.")
