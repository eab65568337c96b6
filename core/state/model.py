"""The neutral records every state backend stores: operations, lock records and their holders."""

from __future__ import annotations

import getpass
import json
import os
import socket
from dataclasses import dataclass, field
from typing import Any

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"          # failed and rolled back cleanly
ROLLED_BACK = "rolled-back"
ABORTED = "aborted"
INTERRUPTED = "interrupted"  # found running with a dead holder

#: seconds a lease lives without a heartbeat (``MODELPORT_LOCK_TTL``); Azure Blob leases last
#: 15 to 60 seconds, so one default fits every backend
DEFAULT_TTL = 60.0


@dataclass(frozen=True)
class Holder:
    """Who takes a lock: what it runs, and where (host, pid, user)."""

    holder: str
    pid: int
    host: str
    user: str

    @classmethod
    def me(cls, holder: str) -> "Holder":
        """This process as the holder of ``holder`` (e.g. ``modelport swap (pid N on HOST)``)."""
        return cls(holder, os.getpid(), socket.gethostname(), current_user())


def current_user() -> str:
    """The login name, or the uid where the machine has no name for it (a CI container)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


@dataclass(frozen=True)
class LockRecord:
    """A deployment's lock as its store reports it. ``age`` is seconds since the last heartbeat
    and ``expired`` whether the lease lapsed, both by the store's own clock (machines' clocks
    differ); ``version`` is what a compare-and-swap on this record needs (opaque)."""

    name: str
    holder: str
    pid: int
    host: str
    user: str
    operation: int | None
    acquired: float
    age: float
    ttl: float
    expired: bool
    version: str = field(default="", repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without the CAS version."""
        return {"name": self.name, "holder": self.holder, "pid": self.pid, "host": self.host,
                "user": self.user, "operation": self.operation, "acquired": self.acquired,
                "heartbeat_age": round(self.age, 1), "ttl": self.ttl, "expired": self.expired}

    def __getitem__(self, key: str) -> Any:  # lock_holder() used to return a dict
        return self.to_dict()[key]


@dataclass(frozen=True)
class Operation:
    """One journaled operation: its plan (list of step dicts) and how far it got."""

    id: int
    name: str
    kind: str
    targets: list[str]
    status: str
    holder: str
    pid: int
    host: str
    plan: list[dict[str, Any]]
    done: int
    undone: int
    context: dict[str, Any]
    error: str | None
    started: float
    finished: float | None

    def to_dict(self) -> dict[str, Any]:
        """The journal entry as ``history`` shows it."""
        return {"id": self.id, "name": self.name, "kind": self.kind, "targets": self.targets,
                "status": self.status, "holder": self.holder, "steps": len(self.plan),
                "done": self.done, "error": self.error, "started": self.started,
                "finished": self.finished}

    def to_row(self) -> dict[str, Any]:
        """Every field, JSON columns encoded (what a backend stores)."""
        return {"id": self.id, "name": self.name, "kind": self.kind, "targets": json.dumps(self.targets),
                "status": self.status, "holder": self.holder, "pid": self.pid, "host": self.host,
                "plan": json.dumps(self.plan), "done": self.done, "undone": self.undone,
                "context": json.dumps(self.context), "error": self.error, "started": self.started,
                "finished": self.finished}


def to_operation(row: Any) -> Operation:
    """An :class:`Operation` from a stored row (JSON columns as text)."""
    return Operation(id=int(row["id"]), name=row["name"], kind=row["kind"], targets=json.loads(row["targets"]),
                     status=row["status"], holder=row["holder"], pid=row["pid"], host=row["host"],
                     plan=json.loads(row["plan"]), done=row["done"], undone=row["undone"],
                     context=json.loads(row["context"]), error=row["error"], started=row["started"],
                     finished=row["finished"])


#: the tables every backend holds, with their columns in order (also the dump format of
#: ``modelport state migrate``)
TABLES: dict[str, tuple[str, ...]] = {
    "deployments": ("name", "target", "provider", "spec_file", "revision", "digest", "endpoint", "traffic",
                    "created", "updated"),
    "revisions": ("name", "target", "revision", "digest", "image_ref", "config", "model_version", "created",
                  "deleted", "spec"),
    "operations": ("id", "name", "kind", "targets", "status", "holder", "pid", "host", "plan", "done", "undone",
                   "context", "error", "started", "finished"),
    "events": ("id", "name", "target", "operation", "ts", "kind", "message", "data"),
}
