"""The state store every command uses, on any backend: records, the journal, and leases.

A deployment's lock is a lease: a record naming its holder (what it runs, host, pid, user) that
the holder renews from a background thread every ``ttl / 4`` seconds while it runs. A lease is
*stale* when it expired (no heartbeat for ``ttl`` seconds, by the store's clock) or, on this
host, when its holder process is gone. Only a stale lease can be broken (``--break-lock``,
``resume``, ``abort``), and of two processes breaking one exactly one wins. Every write made
under a lease is fenced by its token: once broken, the old holder's writes fail with
:class:`~modelport.errors.LeaseLost`, checked by the backend in the same atomic step.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import LeaseLost, LockHeld, UsageError
from .backend import Backend
from .model import DEFAULT_TTL, RUNNING, Holder, LockRecord, Operation, to_operation


def lock_ttl() -> float:
    """``MODELPORT_LOCK_TTL`` (seconds a lease outlives its last heartbeat), default 60."""
    raw = os.environ.get("MODELPORT_LOCK_TTL")
    if not raw:
        return DEFAULT_TTL
    try:
        ttl = float(raw)
    except ValueError:
        ttl = float("nan")
    if not 1 <= ttl <= 86400:  # also refuses nan
        raise UsageError(f"MODELPORT_LOCK_TTL={raw[:40]!r}: give a number of seconds from 1 to 86400")
    return ttl


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(lock: LockRecord) -> bool:
    """Expired, or held by a process of this host that is gone (no need to wait for expiry)."""
    return lock.expired or (lock.host == socket.gethostname() and not pid_alive(lock.pid))


def describe(lock: LockRecord) -> str:
    """The holder as a user must see it: what it runs, pid and host (once), user, lease."""
    who = lock.holder if f"pid {lock.pid} on {lock.host}" in lock.holder else \
        f"{lock.holder} (pid {lock.pid} on {lock.host})"
    who += f" as {lock.user}" if lock.user else ""
    who += f", running operation #{lock.operation}" if lock.operation is not None else ""
    if lock.expired:
        return who + f", whose lease expired (no heartbeat for {lock.age:.0f}s, lease {lock.ttl:.0f}s)"
    if is_stale(lock):
        return who + ", which is no longer running"
    return who + f" (lease renewed {lock.age:.0f}s ago, expires {lock.ttl:.0f}s after its last heartbeat)"


class _Lease:
    def __init__(self, token: str) -> None:
        self.token = token
        self.lost = False


class StateStore:
    """State on the backend ``url`` names (a path, ``sqlite:///``, ``postgresql://``, ``s3://``,
    ``azblob://``; default ``$MODELPORT_STATE`` or the SQLite file in the user's state folder).
    Safe across processes and machines; one short atomic call per method."""

    def __init__(self, url: str | Path | Backend | None = None, *, ttl: float | None = None) -> None:
        from .url import open_backend

        self.backend = url if isinstance(url, Backend) else open_backend(url)
        self.url = self.backend.display
        self.path = getattr(self.backend, "path", None)  # the SQLite file, for tools that read it
        self.ttl = ttl or lock_ttl()
        self._leases: dict[str, _Lease] = {}
        self._op_names: dict[int, str] = {}
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._beater: threading.Thread | None = None

    # -- locks ----------------------------------------------------------------------------------
    def acquire_lock(self, name: str, holder: str, operation: int | None = None,
                     break_stale: bool = False) -> None:
        """Take the deployment's lease or raise :class:`LockHeld` naming the holder. A stale
        lease (expired, or its holder dead on this host) is broken only with ``break_stale``."""
        me = Holder.me(holder)
        token = None
        for _attempt in range(5):
            token = self.backend.lock_create(name, me, self.ttl)
            if token:
                break
            seen = self.backend.lock_read(name)
            if seen is None:
                continue  # released meanwhile: try to create it again
            if not is_stale(seen) or not break_stale:
                raise LockHeld(name, describe(seen), stale=is_stale(seen), lock=seen.to_dict())
            token = self.backend.lock_replace(name, seen, me, self.ttl)
            if token:
                break
        if not token:
            raise LockHeld(name, "another process (the lock changed hands while this one tried to take it)")
        with self._guard:
            self._leases[name] = _Lease(token)
        self._start_heartbeat()
        if operation is not None:
            self.set_lock_operation(name, operation)

    def check_lock(self, name: str) -> None:
        """Raise :class:`LockHeld` if another live process holds the deployment's lock (lets a
        command fail fast, before building anything)."""
        lock = self.backend.lock_read(name)
        if lock is None or name in self._leases:
            return
        if not is_stale(lock):
            raise LockHeld(name, describe(lock), lock=lock.to_dict())

    def set_lock_operation(self, name: str, operation: int) -> None:
        """Name the operation this process runs under its lease."""
        self.backend.lock_set_operation(name, self._fence(name) or "", operation)

    def release_lock(self, name: str) -> None:
        """Give the lease back (no-op when it was broken meanwhile)."""
        with self._guard:
            lease = self._leases.pop(name, None)
        if lease is not None and not lease.lost:
            self.backend.lock_release(name, lease.token)

    def lock_holder(self, name: str) -> LockRecord | None:
        """The deployment's lock record, if any (indexable like the dict it used to be)."""
        return self.backend.lock_read(name)

    def holds_lock(self, name: str) -> bool:
        """Whether this store holds a lease on ``name`` that was not broken."""
        lease = self._leases.get(name)
        return lease is not None and not lease.lost

    def check_lease(self, name: str) -> None:
        """Raise :class:`LeaseLost` if a heartbeat found this store's lease on ``name`` broken
        (no I/O: every write checks the lease in the store itself anyway)."""
        self._fence(name)

    def _fence(self, name: str) -> str | None:
        lease = self._leases.get(name)
        if lease is None:
            return None
        if lease.lost:
            raise LeaseLost(name, "its heartbeat found the lease gone")
        return lease.token

    # -- heartbeats -----------------------------------------------------------------------------
    def _start_heartbeat(self) -> None:
        with self._guard:
            if self._beater is None:
                self._beater = threading.Thread(target=self._beat, name="modelport-lease-heartbeat", daemon=True)
                self._beater.start()

    def _beat(self) -> None:
        """Renew every held lease each ``ttl / 4`` s; end when none is held (the next lease
        taken starts a new thread: both decisions are made under the same guard)."""
        interval = max(0.2, self.ttl / 4)
        while not self._stop.wait(interval):
            with self._guard:
                leases = [(n, lease) for n, lease in self._leases.items() if not lease.lost]
                if not self._leases:
                    self._beater = None
                    return
            for name, lease in leases:
                try:
                    if not self.backend.lock_heartbeat(name, lease.token, self.ttl):
                        lease.lost = True
                except Exception:  # the store is unreachable for now: the next beat tries again
                    pass

    def close(self) -> None:
        """Stop heartbeats and close connections (leases are not released: see release_lock)."""
        self._stop.set()
        self.backend.close()

    # -- operations journal ---------------------------------------------------------------------
    def begin_operation(self, name: str, kind: str, targets: list[str], holder: str,
                        plan: list[dict[str, Any]], context: dict[str, Any]) -> int:
        """Journal a new running operation held by this process; its id."""
        row = {"name": name, "kind": kind, "targets": json.dumps(targets), "status": RUNNING, "holder": holder,
               "pid": os.getpid(), "host": socket.gethostname(), "plan": json.dumps(plan), "done": 0,
               "undone": 0, "context": json.dumps(context), "error": None, "started": time.time(),
               "finished": None}
        op = self.backend.insert_operation(row, self._fence(name))
        self._op_names[op] = name
        return op

    def _update(self, op: int, fields: dict[str, Any]) -> None:
        name = self._name_of(op)
        self.backend.update_operation(name, op, fields, self._fence(name))

    def _name_of(self, op: int) -> str:
        if op not in self._op_names:
            row = self.backend.get_operation(op)
            if row is None:
                raise KeyError(f"no operation #{op} in the state store")
            self._op_names[op] = row["name"]
        return self._op_names[op]

    def step_done(self, op: int, done: int, context: dict[str, Any] | None = None) -> None:
        """Journal that ``done`` steps of ``op`` finished (and its new context)."""
        self._update(op, {"done": done} if context is None else {"done": done, "context": json.dumps(context)})

    def step_undone(self, op: int, undone: int) -> None:
        """Journal how many steps of ``op`` were undone."""
        self._update(op, {"undone": undone})

    def adopt_operation(self, op: int) -> None:
        """Make this process the holder of an interrupted operation (resume/abort)."""
        self._update(op, {"pid": os.getpid(), "host": socket.gethostname(), "status": RUNNING})

    def finish_operation(self, op: int, status: str, error: str | None = None) -> None:
        """Mark ``op`` finished with ``status``."""
        self._update(op, {"status": status, "error": error, "finished": time.time()})

    def operation(self, op: int) -> Operation:
        """Operation ``op``."""
        row = self.backend.get_operation(op)
        if row is None:
            raise KeyError(f"no operation #{op} in the state store")
        return to_operation(row)

    def unfinished(self, name: str) -> Operation | None:
        """The operation on ``name`` still marked running whose holder is gone, if any: its
        lease is no longer held by the process that journaled it, or is stale."""
        running = [to_operation(r) for r in self.backend.list_operations(name) if r["status"] == RUNNING]
        if not running:
            return None
        lock = self.backend.lock_read(name)
        for op in reversed(running):
            held = lock is not None and lock.pid == op.pid and lock.host == op.host and not is_stale(lock)
            if not held:
                return op
        return None

    def operations(self, name: str) -> list[Operation]:
        """Every operation on ``name``, oldest first."""
        return [to_operation(r) for r in self.backend.list_operations(name)]

    # -- deployments, revisions, events -----------------------------------------------------------
    def record_deployment(self, name: str, target: str, provider: str, *, spec_file: str | None,
                          revision: str | None, digest: str | None, endpoint: str | None,
                          traffic: dict[str, int]) -> None:
        """Record what serves ``name`` on ``target`` now."""
        now = time.time()
        self.backend.upsert_deployment(
            {"name": name, "target": target, "provider": provider, "spec_file": spec_file, "revision": revision,
             "digest": digest, "endpoint": endpoint, "traffic": json.dumps(traffic), "created": now,
             "updated": now}, self._fence(name))

    def forget_deployment(self, name: str, target: str) -> None:
        """Forget ``name`` on ``target`` (its revisions are kept, marked deleted)."""
        self.backend.delete_deployment(name, target, time.time(), self._fence(name))

    def deployments(self, name: str | None = None, target: str | None = None) -> list[dict[str, Any]]:
        """Recorded deployments (``traffic`` decoded)."""
        return [{**r, "traffic": json.loads(r["traffic"] or "{}")} for r in self.backend.list_deployments(name, target)]

    def record_revision(self, name: str, target: str, revision: str, digest: str,
                        image_ref: str | None, config: str, model_version: str,
                        spec: dict[str, Any] | None = None) -> None:
        """Record a created revision; ``spec`` is its RevisionSpec data (references, never values)."""
        self.backend.upsert_revision(
            {"name": name, "target": target, "revision": revision, "digest": digest, "image_ref": image_ref,
             "config": config, "model_version": model_version, "created": time.time(), "deleted": None,
             "spec": json.dumps(spec) if spec is not None else None}, self._fence(name))

    def mark_revision_deleted(self, name: str, target: str, revision: str) -> None:
        """Record that a revision was deleted."""
        self.backend.set_revision_deleted(name, target, revision, time.time(), self._fence(name))

    def revisions(self, name: str, target: str | None = None) -> list[dict[str, Any]]:
        """Recorded revisions of ``name``, oldest first."""
        return self.backend.list_revisions(name, target)

    def add_event(self, name: str, kind: str, message: str, *, target: str | None = None,
                  operation: int | None = None, data: dict[str, Any] | None = None) -> None:
        """Append an event to ``name``'s history."""
        self.backend.insert_event({"name": name, "target": target, "operation": operation, "ts": time.time(),
                                   "kind": kind, "message": message, "data": json.dumps(data or {})},
                                  self._fence(name))

    def events(self, name: str) -> list[dict[str, Any]]:
        """``name``'s history, oldest first (``data`` decoded)."""
        return [{**r, "data": json.loads(r["data"] or "{}")} for r in self.backend.list_events(name)]
