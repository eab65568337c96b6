"""State in an object store (S3, Azure Blob) with conditional writes, the way Terraform's S3
backend keeps state and its lockfile.

Layout under the URL's prefix::

    modelport-state.json        {"format": 1}: the layout's version (a newer one is refused)
    counter.json                the last operation id handed out
    deployments/NAME.json       everything about one deployment: its records per target,
                                revisions, operations, events, and the fencing counter
    operations/ID.json          which deployment operation ID belongs to
    locks/NAME.json             the deployment's lease (its holder), see the bucket classes

Every change to a document is read - change - write with ``If-Match`` on the ETag that was read
(``If-None-Match: *`` for a new one), retried when another writer came first, so no update is
lost. Fencing: taking a lease bumps the document's ``fence``; a write fenced by an older token
finds a newer fence (or loses its ``If-Match``) and raises LeaseLost.
"""

from __future__ import annotations

import json
import random
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import LeaseLost, ModelportError, UsageError
from .backend import Backend, Row
from .model import TABLES, Holder, LockRecord

FORMAT = 1


@dataclass(frozen=True)
class Blob:
    """An object as read: its bytes, ETag, and age (seconds since last written, store clock)."""

    data: bytes
    etag: str
    age: float
    lease: str | None = None  # Azure: the blob's lease state (leased, available, expired, broken)


class Bucket(ABC):
    """The few object-store calls the backend needs. ``display`` names it for people."""

    display: str = ""

    @abstractmethod
    def get(self, key: str) -> Blob | None:
        """The object at ``key`` (relative to the prefix), or None."""

    @abstractmethod
    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_absent: bool = False) -> str | None:
        """Write ``key`` only if its ETag is still ``if_match`` (or, ``if_absent``, only if it does not
        exist): the new ETag, or None when the condition failed."""

    @abstractmethod
    def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Delete ``key`` (only if its ETag is ``if_match``; silently otherwise)."""

    @abstractmethod
    def keys(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` (relative to the store's prefix)."""

    # -- leases: by conditional writes of the lock object (S3); Azure overrides with blob leases ----
    def lease_create(self, key: str, data: bytes, ttl: float) -> str | None:
        """Create the lock object; a handle for the calls below, or None if it exists."""
        return self.put(key, data, if_absent=True)

    def lease_replace(self, key: str, data: bytes, seen: str, ttl: float) -> str | None:
        """Take over the lock object read with version ``seen``; a handle, or None."""
        return self.put(key, data, if_match=seen)

    def lease_renew(self, key: str, data: bytes, handle: str, ttl: float) -> str | None:
        """Heartbeat (rewrite under ``handle``); the new handle, or None when the lease was lost."""
        return self.put(key, data, if_match=handle)

    def lease_release(self, key: str, handle: str) -> None:
        """Remove the lock object if it is still this handle's."""
        self.delete(key, if_match=handle)

    def lease_ttl(self, ttl: float) -> float:
        """The lease length this store really gives for a requested ``ttl``."""
        return ttl

    def lease_expired(self, blob: Blob, ttl: float) -> bool:
        """Whether the lock object read as ``blob`` lapsed (no heartbeat for ``ttl`` seconds)."""
        return blob.age > ttl


def _empty_doc() -> dict[str, Any]:
    return {"fence": 0, "deployments": {}, "revisions": {}, "operations": {}, "events": []}


class ObjectBackend(Backend):
    """The store interface on a :class:`Bucket`."""

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self.display = bucket.display
        self._handles: dict[str, str] = {}
        self._records: dict[str, dict[str, Any]] = {}  # the lock contents this process wrote
        self._guard = threading.Lock()
        self._check_format()

    def _check_format(self) -> None:
        blob = self.bucket.get("modelport-state.json")
        if blob is None:
            self.bucket.put("modelport-state.json", json.dumps({"format": FORMAT}).encode(), if_absent=True)
            return
        found = json.loads(blob.data).get("format", 0)
        if found > FORMAT:
            raise UsageError(f"state store {self.display}: its layout is format {found}, newer than this "
                             f"modelport understands ({FORMAT})", hint="upgrade modelport")

    # -- read-change-write of one deployment's document ------------------------------------------
    def _doc(self, name: str) -> dict[str, Any]:
        blob = self.bucket.get(f"deployments/{name}.json")
        return json.loads(blob.data) if blob else _empty_doc()

    def _change(self, name: str, fence: str | None, change: Callable[[dict[str, Any]], Any]) -> Any:
        key = f"deployments/{name}.json"
        for attempt in range(60):
            blob = self.bucket.get(key)
            doc = json.loads(blob.data) if blob else _empty_doc()
            if fence is not None and str(doc["fence"]) != fence:
                raise LeaseLost(name, "found at a write to the state store")
            result = change(doc)
            data = json.dumps(doc, separators=(",", ":")).encode()
            written = self.bucket.put(key, data, if_match=blob.etag) if blob else \
                self.bucket.put(key, data, if_absent=True)
            if written:
                return result
            time.sleep(random.uniform(0.01, 0.05 * min(attempt + 1, 10)))  # another writer came first
        raise ModelportError(f"state store {self.display}: {key} kept changing under this write; try again")

    # -- locks -------------------------------------------------------------------------------------
    def _lock_data(self, name: str, who: Holder, ttl: float, operation: int | None = None) -> dict[str, Any]:
        return {"name": name, "holder": who.holder, "pid": who.pid, "host": who.host, "user": who.user,
                "operation": operation, "acquired": time.time(), "ttl": self.bucket.lease_ttl(ttl)}

    def lock_read(self, name: str) -> LockRecord | None:
        blob = self.bucket.get(f"locks/{name}.json")
        if blob is None:
            return None
        d = json.loads(blob.data)
        ttl = float(d.get("ttl", 60))
        return LockRecord(name, d["holder"], int(d["pid"]), d["host"], d.get("user", ""), d.get("operation"),
                          float(d["acquired"]), blob.age, ttl, self.bucket.lease_expired(blob, ttl), version=blob.etag)

    def _took(self, name: str, record: dict[str, Any], handle: str | None) -> str | None:
        if handle is None:
            return None
        with self._guard:
            self._handles[name], self._records[name] = handle, record
        # fencing: from now on, writes fenced by any earlier lease's token are refused
        return str(self._change(name, None, _bump_fence))

    def lock_create(self, name: str, who: Holder, ttl: float) -> str | None:
        record = self._lock_data(name, who, ttl)
        return self._took(name, record, self.bucket.lease_create(f"locks/{name}.json", _encode(record), ttl))

    def lock_replace(self, name: str, seen: LockRecord, who: Holder, ttl: float) -> str | None:
        record = self._lock_data(name, who, ttl)
        handle = self.bucket.lease_replace(f"locks/{name}.json", _encode(record), seen.version, ttl)
        return self._took(name, record, handle)

    def lock_heartbeat(self, name: str, token: str, ttl: float) -> bool:
        with self._guard:
            handle, record = self._handles.get(name), self._records.get(name)
        if handle is None or record is None:
            return False
        # a new body each beat gives a new ETag: a breaker that read the lock before this beat
        # fails its If-Match instead of replacing a holder that just proved it is alive
        renewed = self.bucket.lease_renew(f"locks/{name}.json", _encode({**record, "beat": time.time()}), handle, ttl)
        with self._guard:
            if renewed is None:
                self._handles.pop(name, None)
                return False
            self._handles[name] = renewed
        return True

    def lock_set_operation(self, name: str, token: str, operation: int) -> None:
        with self._guard:
            record = self._records.get(name)
            if record is not None:
                record["operation"] = operation
        self.lock_heartbeat(name, token, float(record["ttl"]) if record else 60.0)

    def lock_release(self, name: str, token: str) -> None:
        with self._guard:
            handle = self._handles.pop(name, None)
            self._records.pop(name, None)
        if handle is not None:
            self.bucket.lease_release(f"locks/{name}.json", handle)

    # -- journal -------------------------------------------------------------------------------------
    def _next_id(self) -> int:
        for attempt in range(60):
            blob = self.bucket.get("counter.json")
            last = json.loads(blob.data)["operation"] if blob else 0
            data = json.dumps({"operation": last + 1}).encode()
            if (self.bucket.put("counter.json", data, if_match=blob.etag) if blob else
                    self.bucket.put("counter.json", data, if_absent=True)):
                return last + 1
            time.sleep(random.uniform(0.01, 0.05 * min(attempt + 1, 10)))
        raise ModelportError(f"state store {self.display}: could not take a new operation id; try again")

    def insert_operation(self, row: Row, fence: str | None) -> int:
        op = self._next_id()
        self.bucket.put(f"operations/{op}.json", json.dumps({"name": row["name"]}).encode())
        self._change(row["name"], fence, lambda doc: doc["operations"].__setitem__(str(op), {**row, "id": op}))
        return op

    def update_operation(self, name: str, op: int, fields: Row, fence: str | None) -> None:
        self._change(name, fence, lambda doc: doc["operations"][str(op)].update(fields))

    def get_operation(self, op: int) -> Row | None:
        index = self.bucket.get(f"operations/{op}.json")
        if index is None:
            return None
        return self._doc(json.loads(index.data)["name"])["operations"].get(str(op))

    def list_operations(self, name: str) -> list[Row]:
        return sorted(self._doc(name)["operations"].values(), key=lambda r: r["id"])

    # -- records -------------------------------------------------------------------------------------
    def upsert_deployment(self, row: Row, fence: str | None) -> None:
        def change(doc):
            old = doc["deployments"].get(row["target"])
            new = dict(row)
            if old is not None:
                new["created"] = old["created"]
                new["spec_file"] = row["spec_file"] if row["spec_file"] is not None else old["spec_file"]
            doc["deployments"][row["target"]] = new
        self._change(row["name"], fence, change)

    def delete_deployment(self, name: str, target: str, ts: float, fence: str | None) -> None:
        def change(doc):
            doc["deployments"].pop(target, None)
            for rev in doc["revisions"].values():
                if rev["target"] == target and rev["deleted"] is None:
                    rev["deleted"] = ts
        self._change(name, fence, change)

    def list_deployments(self, name: str | None, target: str | None) -> list[Row]:
        names = [name] if name else self._names()
        rows = [r for n in names for r in self._doc(n)["deployments"].values()]
        return sorted((r for r in rows if not target or r["target"] == target), key=lambda r: (r["name"], r["target"]))

    def _names(self) -> list[str]:
        return sorted(k[len("deployments/"):-len(".json")] for k in self.bucket.keys("deployments/")
                      if k.endswith(".json"))

    def upsert_revision(self, row: Row, fence: str | None) -> None:
        def change(doc):
            key = f"{row['target']}/{row['revision']}"
            old = doc["revisions"].get(key)
            doc["revisions"][key] = {**row, "created": old["created"]} if old else dict(row)
        self._change(row["name"], fence, change)

    def set_revision_deleted(self, name: str, target: str, revision: str, ts: float, fence: str | None) -> None:
        def change(doc):
            rev = doc["revisions"].get(f"{target}/{revision}")
            if rev is not None:
                rev["deleted"] = ts
        self._change(name, fence, change)

    def list_revisions(self, name: str, target: str | None) -> list[Row]:
        rows = [r for r in self._doc(name)["revisions"].values() if not target or r["target"] == target]
        return sorted(rows, key=lambda r: r["created"])

    def insert_event(self, row: Row, fence: str | None) -> None:
        def change(doc):
            doc["events"].append({**row, "id": (doc["events"][-1]["id"] + 1) if doc["events"] else 1})
        self._change(row["name"], fence, change)

    def list_events(self, name: str) -> list[Row]:
        return self._doc(name)["events"]

    # -- copies ----------------------------------------------------------------------------------------
    def dump(self) -> dict[str, list[Row]]:
        docs = [self._doc(n) for n in self._names()]
        return {"deployments": [r for d in docs for r in d["deployments"].values()],
                "revisions": [r for d in docs for r in sorted(d["revisions"].values(), key=lambda r: r["created"])],
                "operations": sorted((r for d in docs for r in d["operations"].values()), key=lambda r: r["id"]),
                "events": [r for d in docs for r in d["events"]]}

    def load(self, tables: dict[str, list[Row]]) -> None:
        docs: dict[str, dict[str, Any]] = {}
        for row in tables.get("deployments", []):
            docs.setdefault(row["name"], _empty_doc())["deployments"][row["target"]] = _only(row, "deployments")
        for row in tables.get("revisions", []):
            docs.setdefault(row["name"], _empty_doc())["revisions"][f"{row['target']}/{row['revision']}"] = \
                _only(row, "revisions")
        for row in tables.get("operations", []):
            docs.setdefault(row["name"], _empty_doc())["operations"][str(row["id"])] = _only(row, "operations")
            self.bucket.put(f"operations/{row['id']}.json", json.dumps({"name": row["name"]}).encode())
        for row in sorted(tables.get("events", []), key=lambda r: (r["ts"], r["id"])):
            events = docs.setdefault(row["name"], _empty_doc())["events"]
            events.append({**_only(row, "events"), "id": len(events) + 1})
        for name, doc in docs.items():
            if self.bucket.put(f"deployments/{name}.json", _encode(doc), if_absent=True) is None:
                raise UsageError(f"state store {self.display} already holds {name!r}")
        last = max((int(r["id"]) for r in tables.get("operations", [])), default=0)
        blob = self.bucket.get("counter.json")
        if last and (blob is None or json.loads(blob.data)["operation"] < last):
            self.bucket.put("counter.json", json.dumps({"operation": last}).encode(),
                            **({"if_match": blob.etag} if blob else {"if_absent": True}))


def _bump_fence(doc: dict[str, Any]) -> int:
    doc["fence"] = int(doc["fence"]) + 1
    return doc["fence"]


def _only(row: Row, table: str) -> Row:
    return {c: row.get(c) for c in TABLES[table]}


def _encode(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()
