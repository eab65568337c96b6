"""In-memory records of the emulated ARM world and their JSON rendering.

A container group keeps the request body it was created with (secrets included, because the
data plane needs them) and renders a response without any secret, as the real API does.
"""
from __future__ import annotations

import copy
import datetime as dt
import threading
import uuid
from dataclasses import dataclass, field

from .errors import ArmError

RESOURCE_TYPE = "Microsoft.ContainerInstance/containerGroups"


def now_iso() -> str:
    """UTC now as ARM writes date-times (millisecond precision, Z suffix)."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def normalize_location(location: str) -> str:
    """ARM location names: 'West US' and 'westus' are the same region."""
    return location.replace(" ", "").lower()


def add_event(events: list, name: str, message: str, kind: str = "Normal") -> None:
    """Append an instanceView event, folding a repeat of the last one into its count."""
    stamp = now_iso()
    for event in events:
        if event["name"] == name and event["message"] == message:
            event["count"] += 1
            event["lastTimestamp"] = stamp
            return
    events.append({"count": 1, "firstTimestamp": stamp, "lastTimestamp": stamp,
                   "name": name, "message": message, "type": kind})


@dataclass
class ContainerRecord:
    """What the emulator knows about one container of a group beyond the request."""

    docker_id: str | None = None
    events: list = field(default_factory=list)
    last_exit: dict | None = None       # previousState after a restart
    final_state: dict | None = None     # the state kept after stop removed the container
    saved_logs: str = ""                # the output kept after stop removed the container
    probe_failures: dict = field(default_factory=dict)
    last_probe: dict = field(default_factory=dict)


@dataclass
class Group:
    """One container group."""

    subscription: str
    resource_group: str
    name: str
    body: dict
    provisioning_state: str = "Pending"
    stopped: bool = False
    ip: str | None = None
    events: list = field(default_factory=list)
    containers: dict[str, ContainerRecord] = field(default_factory=dict)
    busy_operation: str | None = None
    generation: int = 0
    fqdn: str | None = None          # from the DNS label and its scope (dns.py)
    tenant: str = ""

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/{RESOURCE_TYPE}/{self.name}")

    @property
    def location(self) -> str:
        return normalize_location(self.body["location"])

    @property
    def props(self) -> dict:
        return self.body["properties"]

    @property
    def restart_policy(self) -> str:
        return self.props.get("restartPolicy") or "Always"

    @property
    def dns_label(self) -> str | None:
        return (self.props.get("ipAddress") or {}).get("dnsNameLabel")

    def container_specs(self) -> list[dict]:
        return self.props["containers"]


@dataclass
class Operation:
    """An ARM asynchronous operation (the Azure-AsyncOperation resource)."""

    resource_id: str
    location: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "InProgress"
    error: dict | None = None
    start_time: str = field(default_factory=now_iso)
    end_time: str | None = None
    polls: int = 0
    done: threading.Event = field(default_factory=threading.Event)

    def finish(self, error: dict | None = None) -> None:
        """Record the outcome; the status turns terminal on the next poll (see ``body``)."""
        self.error = error
        self.end_time = now_iso()
        self.done.set()

    def body(self, events: list) -> dict:
        """The status body. The first poll always answers InProgress, as a cloud would."""
        self.polls += 1
        if self.done.is_set() and self.polls > 1:
            self.status = "Failed" if self.error else "Succeeded"
        body = {"id": self.resource_id, "status": self.status, "startTime": self.start_time,
                "properties": {"events": copy.deepcopy(events)}}
        if self.status != "InProgress":
            body["endTime"] = self.end_time
        if self.status == "Failed":
            body["error"] = self.error
        return body


def find_operation(operations: dict[str, Operation], sub: str, op_id: str) -> Operation:
    """The operation ``op_id`` of subscription ``sub``; ARM answers 404 OperationNotFound for an
    unknown id or another subscription's (call with the service's lock held)."""
    op = operations.get(op_id)
    if op is None or op.resource_id.split("/")[2].lower() != sub.lower():
        raise ArmError(404, "OperationNotFound", f"The operation '{op_id}' was not found.")
    return op


def _strip_env(envs: list | None) -> list:
    # The real API never returns secureValue: not masked, just absent.
    return [{k: v for k, v in env.items() if k != "secureValue"} for env in envs or []]


def public_properties(props: dict) -> dict:
    """A deep copy of group properties with every secret removed."""
    out = copy.deepcopy(props)
    for kind in ("containers", "initContainers"):
        for container in out.get(kind) or []:
            cprops = container.get("properties") or {}
            cprops["environmentVariables"] = _strip_env(cprops.get("environmentVariables"))
    out["imageRegistryCredentials"] = [
        {k: v for k, v in cred.items() if k != "password"}
        for cred in out.get("imageRegistryCredentials") or []]
    for volume in out.get("volumes") or []:
        (volume.get("azureFile") or {}).pop("storageAccountKey", None)
        if "secret" in volume:
            volume["secret"] = {}
    log_analytics = (out.get("diagnostics") or {}).get("logAnalytics") or {}
    log_analytics.pop("workspaceKey", None)
    log_analytics.pop("workspaceResourceId", None)  # x-ms-secret in the API definition
    for extension in out.get("extensions") or []:
        (extension.get("properties") or {}).pop("protectedSettings", None)
    return out
