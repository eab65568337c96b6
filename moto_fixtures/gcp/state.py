"""In-memory state of the emulator: services, their revisions, IAM policies and operations."""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass, field

from .protojson import REVISION_TYPE, SERVICE_TYPE, now

PENDING, READY, FAILED = "PENDING", "READY", "FAILED"

# Fields of a Service a caller may set; everything else is output only.
USER_FIELDS = ("description", "labels", "annotations", "client", "clientVersion", "ingress",
               "launchStage", "binaryAuthorization", "template", "traffic", "scaling",
               "invokerIamDisabled", "defaultUriDisabled", "iapEnabled", "multiRegionSettings",
               "customAudiences", "buildConfig")


@dataclass
class RevisionRecord:
    """One revision: its resource, the template it was made from and its runtime state."""

    name: str
    data: dict
    template: dict
    state: str = PENDING
    failure: object = None  # runtime.StartFailure when state is FAILED
    instance: object = None  # runtime.Instance while a container runs


@dataclass
class ServiceRecord:
    """One service and everything hanging off it."""

    name: str
    service_id: str
    data: dict
    revisions: dict = field(default_factory=dict)
    policy: dict = field(default_factory=lambda: {"etag": "ACAB"})
    router: object = None
    served: object = None
    tag_routers: dict = field(default_factory=dict)  # tag -> (router, served)
    deleted: bool = False
    reconcile_lock: threading.Lock = field(default_factory=threading.Lock)

    def spec(self) -> dict:
        """The user-settable part of the service."""
        return {k: copy.deepcopy(v) for k, v in self.data.items() if k in USER_FIELDS}

    def revision_name(self, short: str) -> str:
        """Full resource name of one of this service's revisions."""
        return f"{self.name}/revisions/{short}"

    def latest_ready(self) -> str | None:
        """Short name of the latest ready revision, if any."""
        full = self.data.get("latestReadyRevision")
        return full.rsplit("/", 1)[-1] if full else None

    def latest_created(self) -> str | None:
        """Short name of the latest created revision, if any."""
        full = self.data.get("latestCreatedRevision")
        return full.rsplit("/", 1)[-1] if full else None


class Store:
    """All resources, guarded by one lock (held briefly; never across Docker calls)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.services: dict[str, ServiceRecord] = {}
        self.operations: dict[str, dict] = {}
        self.done = threading.Condition(self.lock)

    def new_operation(self, location: str, kind: str, snapshot: dict) -> dict:
        """Register a not-yet-done google.longrunning.Operation carrying `snapshot`."""
        op = {"name": f"{location}/operations/{uuid.uuid4()}",
              "metadata": {"@type": SERVICE_TYPE if kind == "Service" else REVISION_TYPE,
                           **copy.deepcopy(snapshot)},
              "done": False}
        with self.lock:
            self.operations[op["name"]] = op
        return copy.deepcopy(op)

    def finish_operation(self, name: str, snapshot: dict | None, error=None) -> None:
        """Mark an operation done with a response (or a google.rpc.Status error)."""
        with self.lock:
            op = self.operations.get(name)
            if op is None:
                return
            type_url = op["metadata"]["@type"]
            if snapshot is not None:
                op["metadata"] = {"@type": type_url, **copy.deepcopy(snapshot)}
            op["done"] = True
            if error is not None:
                op["error"] = error.rpc_status()
            else:
                op["response"] = {"@type": type_url, **copy.deepcopy(snapshot or {})}
            self.done.notify_all()

    def new_uid(self) -> str:
        """A UUID4 string, as Cloud Run assigns to resources."""
        return str(uuid.uuid4())


def condition(kind: str, state: str, message: str = "", reason: str | None = None,
              revision_reason: str | None = None) -> dict:
    """A google.cloud.run.v2.Condition."""
    out = {"type": kind, "state": state, "lastTransitionTime": now()}
    if message:
        out["message"] = message
    if reason:
        out["reason"] = reason
    if revision_reason:
        out["revisionReason"] = revision_reason
    return out
