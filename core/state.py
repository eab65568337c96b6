"""What was deployed where: deployments, revisions, the operations journal, events and locks.

Embedded SQLite by default (``MODELPORT_STATE`` or ``--state`` names the file). The cloud stays
the source of truth; this store records history and makes interrupted operations resumable.
Never stores secret values.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .errors import LockHeld

SCHEMA = """
CREATE TABLE IF NOT EXISTS deployments (
  name TEXT NOT NULL, target TEXT NOT NULL, provider TEXT NOT NULL, spec_file TEXT,
  revision TEXT, digest TEXT, endpoint TEXT, traffic TEXT, created REAL NOT NULL, updated REAL NOT NULL,
  PRIMARY KEY (name, target));
CREATE TABLE IF NOT EXISTS revisions (
  name TEXT NOT NULL, target TEXT NOT NULL, revision TEXT NOT NULL, digest TEXT NOT NULL,
  image_ref TEXT, config TEXT, model_version TEXT, created REAL NOT NULL, deleted REAL, spec TEXT,
  PRIMARY KEY (name, target, revision));
CREATE TABLE IF NOT EXISTS operations (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, kind TEXT NOT NULL,
  targets TEXT NOT NULL, status TEXT NOT NULL, holder TEXT NOT NULL, pid INTEGER, host TEXT,
  plan TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, undone INTEGER NOT NULL DEFAULT 0,
  context TEXT NOT NULL DEFAULT '{}', error TEXT, started REAL NOT NULL, finished REAL);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, target TEXT, operation INTEGER,
  ts REAL NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS locks (
  name TEXT PRIMARY KEY, holder TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
  operation INTEGER, acquired REAL NOT NULL);
"""

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"          # failed and rolled back cleanly
ROLLED_BACK = "rolled-back"
ABORTED = "aborted"
INTERRUPTED = "interrupted"  # found running with a dead holder


def default_state_path() -> Path:
    """``$MODELPORT_STATE``, else ``~/.local/state/modelport/state.db``."""
    env = os.environ.get("MODELPORT_STATE")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return base / "modelport" / "state.db"


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

    def holder_alive(self) -> bool:
        return _alive(self.pid, self.host)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": self.kind, "targets": self.targets,
                "status": self.status, "holder": self.holder, "steps": len(self.plan),
                "done": self.done, "error": self.error, "started": self.started,
                "finished": self.finished}


def _alive(pid: int, host: str) -> bool:
    if host != socket.gethostname():
        return True  # cannot tell for another machine; assume alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _who(row) -> str:
    """The lock holder as the user must see it: what it runs, its pid and its host (once)."""
    holder = row["holder"]
    return holder if f"pid {row['pid']} on {row['host']}" in holder else f"{holder} (pid {row['pid']} on {row['host']})"


class StateStore:
    """SQLite-backed state. One short transaction per call, safe across processes."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_state_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        finally:
            db.close()

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    # -- locks ----------------------------------------------------------------------------------
    def acquire_lock(self, name: str, holder: str, operation: int | None = None,
                     break_stale: bool = False) -> None:
        """Take the deployment's lock or raise :class:`LockHeld` naming the holder. A lock whose
        holder process is dead is stale: it is only broken when ``break_stale`` is set."""
        now = time.time()
        with self._conn() as db:
            row = db.execute("SELECT * FROM locks WHERE name=?", (name,)).fetchone()
            if row is not None:
                alive = _alive(row["pid"], row["host"])
                who = _who(row)
                if alive or not break_stale:
                    raise LockHeld(name, who if alive else who + ", which is no longer running",
                                   stale=not alive)
                db.execute("DELETE FROM locks WHERE name=?", (name,))
            db.execute("INSERT INTO locks VALUES (?,?,?,?,?,?)",
                       (name, holder, os.getpid(), socket.gethostname(), operation, now))

    def check_lock(self, name: str) -> None:
        """Raise :class:`LockHeld` if another live process holds the deployment's lock (lets a
        command fail fast, before building anything)."""
        row = self.lock_holder(name)
        if row is not None and row["pid"] != os.getpid():
            alive = _alive(row["pid"], row["host"])
            who = _who(row)
            if alive:
                raise LockHeld(name, who)

    def set_lock_operation(self, name: str, operation: int) -> None:
        with self._conn() as db:
            db.execute("UPDATE locks SET operation=? WHERE name=? AND pid=?", (operation, name, os.getpid()))

    def release_lock(self, name: str) -> None:
        with self._conn() as db:
            db.execute("DELETE FROM locks WHERE name=? AND pid=? AND host=?",
                       (name, os.getpid(), socket.gethostname()))

    def lock_holder(self, name: str) -> dict[str, Any] | None:
        with self._conn() as db:
            row = db.execute("SELECT * FROM locks WHERE name=?", (name,)).fetchone()
        return dict(row) if row else None

    # -- operations journal ---------------------------------------------------------------------
    def begin_operation(self, name: str, kind: str, targets: list[str], holder: str,
                        plan: list[dict[str, Any]], context: dict[str, Any]) -> int:
        with self._conn() as db:
            cur = db.execute(
                "INSERT INTO operations (name, kind, targets, status, holder, pid, host, plan, context, started)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                (name, kind, json.dumps(targets), RUNNING, holder, os.getpid(), socket.gethostname(),
                 json.dumps(plan), json.dumps(context), time.time()))
            return int(cur.lastrowid)

    def step_done(self, op: int, done: int, context: dict[str, Any] | None = None) -> None:
        with self._conn() as db:
            if context is None:
                db.execute("UPDATE operations SET done=? WHERE id=?", (done, op))
            else:
                db.execute("UPDATE operations SET done=?, context=? WHERE id=?",
                           (done, json.dumps(context), op))

    def step_undone(self, op: int, undone: int) -> None:
        with self._conn() as db:
            db.execute("UPDATE operations SET undone=? WHERE id=?", (undone, op))

    def adopt_operation(self, op: int) -> None:
        """Make this process the holder of an interrupted operation (resume/abort)."""
        with self._conn() as db:
            db.execute("UPDATE operations SET pid=?, host=?, status=? WHERE id=?",
                       (os.getpid(), socket.gethostname(), RUNNING, op))

    def finish_operation(self, op: int, status: str, error: str | None = None) -> None:
        with self._conn() as db:
            db.execute("UPDATE operations SET status=?, error=?, finished=? WHERE id=?",
                       (status, error, time.time(), op))

    def operation(self, op: int) -> Operation:
        with self._conn() as db:
            row = db.execute("SELECT * FROM operations WHERE id=?", (op,)).fetchone()
        return _to_operation(row)

    def unfinished(self, name: str) -> Operation | None:
        """The operation on ``name`` still marked running whose holder is gone, if any."""
        with self._conn() as db:
            rows = db.execute("SELECT * FROM operations WHERE name=? AND status=? ORDER BY id DESC",
                              (name, RUNNING)).fetchall()
        for row in rows:
            op = _to_operation(row)
            if not op.holder_alive():
                return op
        return None

    def operations(self, name: str) -> list[Operation]:
        with self._conn() as db:
            rows = db.execute("SELECT * FROM operations WHERE name=? ORDER BY id", (name,)).fetchall()
        return [_to_operation(r) for r in rows]

    # -- deployments, revisions, events -----------------------------------------------------------
    def record_deployment(self, name: str, target: str, provider: str, *, spec_file: str | None,
                          revision: str | None, digest: str | None, endpoint: str | None,
                          traffic: dict[str, int]) -> None:
        now = time.time()
        with self._conn() as db:
            db.execute(
                "INSERT INTO deployments VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(name, target) DO UPDATE SET"
                " provider=excluded.provider, spec_file=COALESCE(excluded.spec_file, spec_file),"
                " revision=excluded.revision, digest=excluded.digest, endpoint=excluded.endpoint,"
                " traffic=excluded.traffic, updated=excluded.updated",
                (name, target, provider, spec_file, revision, digest, endpoint, json.dumps(traffic), now, now))

    def forget_deployment(self, name: str, target: str) -> None:
        with self._conn() as db:
            db.execute("DELETE FROM deployments WHERE name=? AND target=?", (name, target))
            db.execute("UPDATE revisions SET deleted=? WHERE name=? AND target=? AND deleted IS NULL",
                       (time.time(), name, target))

    def deployments(self, name: str | None = None, target: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM deployments WHERE 1=1", []
        if name:
            sql, args = sql + " AND name=?", args + [name]
        if target:
            sql, args = sql + " AND target=?", args + [target]
        with self._conn() as db:
            rows = db.execute(sql + " ORDER BY name, target", args).fetchall()
        return [{**dict(r), "traffic": json.loads(r["traffic"] or "{}")} for r in rows]

    def record_revision(self, name: str, target: str, revision: str, digest: str,
                        image_ref: str | None, config: str, model_version: str,
                        spec: dict[str, Any] | None = None) -> None:
        """Record a created revision; ``spec`` is its RevisionSpec data (references, never values)."""
        with self._conn() as db:
            db.execute("INSERT INTO revisions VALUES (?,?,?,?,?,?,?,?,NULL,?) ON CONFLICT DO UPDATE SET"
                       " digest=excluded.digest, image_ref=excluded.image_ref, config=excluded.config,"
                       " model_version=excluded.model_version, deleted=NULL, spec=excluded.spec",
                       (name, target, revision, digest, image_ref, config, model_version, time.time(),
                        json.dumps(spec) if spec is not None else None))

    def mark_revision_deleted(self, name: str, target: str, revision: str) -> None:
        with self._conn() as db:
            db.execute("UPDATE revisions SET deleted=? WHERE name=? AND target=? AND revision=?",
                       (time.time(), name, target, revision))

    def revisions(self, name: str, target: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM revisions WHERE name=?", [name]
        if target:
            sql, args = sql + " AND target=?", args + [target]
        with self._conn() as db:
            return [dict(r) for r in db.execute(sql + " ORDER BY created", args).fetchall()]

    def add_event(self, name: str, kind: str, message: str, *, target: str | None = None,
                  operation: int | None = None, data: dict[str, Any] | None = None) -> None:
        with self._conn() as db:
            db.execute("INSERT INTO events (name, target, operation, ts, kind, message, data)"
                       " VALUES (?,?,?,?,?,?,?)",
                       (name, target, operation, time.time(), kind, message, json.dumps(data or {})))

    def events(self, name: str) -> list[dict[str, Any]]:
        with self._conn() as db:
            rows = db.execute("SELECT * FROM events WHERE name=? ORDER BY id", (name,)).fetchall()
        return [{**dict(r), "data": json.loads(r["data"])} for r in rows]


def _to_operation(row: sqlite3.Row) -> Operation:
    return Operation(id=row["id"], name=row["name"], kind=row["kind"], targets=json.loads(row["targets"]),
                     status=row["status"], holder=row["holder"], pid=row["pid"], host=row["host"],
                     plan=json.loads(row["plan"]), done=row["done"], undone=row["undone"],
                     context=json.loads(row["context"]), error=row["error"], started=row["started"],
                     finished=row["finished"])
