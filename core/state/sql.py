"""The SQL backends' shared half: schema versions and migrations, and every query, written once
for SQLite and PostgreSQL (:mod:`.sqlite`, :mod:`.postgres` give connections and the dialect).

The schema is versioned (table ``modelport_schema``) and migrated forward by modelport, in one
transaction that also holds off other migrating processes; a store written by a newer modelport
is refused instead of being half understood. Times of leases are the database's own clock.
"""

from __future__ import annotations

import uuid
from abc import abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from ..errors import LeaseLost, UsageError
from .backend import Backend, Row
from .model import DEFAULT_TTL, TABLES, Holder, LockRecord


@dataclass(frozen=True)
class Dialect:
    """What differs between the SQL databases modelport writes."""

    param: str         # placeholder: "?" or "%s"
    now: str           # the database clock as seconds since the epoch
    serial: str        # an auto-increment integer primary key
    real: str          # a float wide enough for epoch seconds (PostgreSQL's REAL is 4 bytes)
    for_update: str    # row lock in a read-then-write transaction ("" where the whole db is locked)


def migrations(d: Dialect) -> list[list[str]]:
    """The schema, one list of statements per version (index + 1)."""
    v1 = [
        "CREATE TABLE IF NOT EXISTS deployments (name TEXT NOT NULL, target TEXT NOT NULL, provider TEXT NOT NULL,"
        f" spec_file TEXT, revision TEXT, digest TEXT, endpoint TEXT, traffic TEXT, created {d.real} NOT NULL,"
        f" updated {d.real} NOT NULL, PRIMARY KEY (name, target))",
        "CREATE TABLE IF NOT EXISTS revisions (name TEXT NOT NULL, target TEXT NOT NULL, revision TEXT NOT NULL,"
        f" digest TEXT NOT NULL, image_ref TEXT, config TEXT, model_version TEXT, created {d.real} NOT NULL,"
        f" deleted {d.real}, spec TEXT, PRIMARY KEY (name, target, revision))",
        f"CREATE TABLE IF NOT EXISTS operations (id {d.serial}, name TEXT NOT NULL, kind TEXT NOT NULL,"
        " targets TEXT NOT NULL, status TEXT NOT NULL, holder TEXT NOT NULL, pid INTEGER, host TEXT,"
        " plan TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, undone INTEGER NOT NULL DEFAULT 0,"
        f" context TEXT NOT NULL DEFAULT '{{}}', error TEXT, started {d.real} NOT NULL, finished {d.real})",
        f"CREATE TABLE IF NOT EXISTS events (id {d.serial}, name TEXT NOT NULL, target TEXT, operation INTEGER,"
        f" ts {d.real} NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{{}}')",
        "CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, holder TEXT NOT NULL, pid INTEGER NOT NULL,"
        f" host TEXT NOT NULL, operation INTEGER, acquired {d.real} NOT NULL)",
    ]
    v2 = [  # leases: who (user), the fencing token, the heartbeat and the lease's length
        "ALTER TABLE locks ADD COLUMN username TEXT", "ALTER TABLE locks ADD COLUMN token TEXT",
        f"ALTER TABLE locks ADD COLUMN heartbeat {d.real}", f"ALTER TABLE locks ADD COLUMN ttl {d.real}",
        "CREATE INDEX IF NOT EXISTS operations_by_name ON operations (name, id)",
        "CREATE INDEX IF NOT EXISTS events_by_name ON events (name, id)",
    ]
    return [v1, v2]


SCHEMA_VERSION = 2


class Tx:
    """One transaction: ``q`` returns rows as dicts, ``x`` the number of rows changed."""

    def __init__(self, cursor: Any, param: str) -> None:
        self.cursor, self.param = cursor, param

    def _sql(self, sql: str) -> str:
        return sql if self.param == "?" else sql.replace("?", self.param)

    def q(self, sql: str, args: tuple | list = ()) -> list[Row]:
        """Run a query; its rows."""
        self.cursor.execute(self._sql(sql), tuple(args))
        names = [c[0] for c in self.cursor.description or ()]
        return [dict(zip(names, row)) if not isinstance(row, dict) else row for row in self.cursor.fetchall()]

    def x(self, sql: str, args: tuple | list = ()) -> int:
        """Run a statement; how many rows it changed."""
        self.cursor.execute(self._sql(sql), tuple(args))
        return self.cursor.rowcount


class SqlBackend(Backend):
    """Every query of the store; subclasses open transactions and name their dialect."""

    dialect: Dialect

    @abstractmethod
    def tx(self, migrating: bool = False) -> Any:
        """A context manager yielding a :class:`Tx` that commits on success (``migrating``: also
        excludes other processes migrating the schema)."""

    # -- schema ------------------------------------------------------------------------------------
    def migrate_schema(self) -> int:
        """Bring the schema to :data:`SCHEMA_VERSION`; the version it was at."""
        with self.tx(migrating=True) as t:
            t.x("CREATE TABLE IF NOT EXISTS modelport_schema (version INTEGER NOT NULL)")
            rows = t.q("SELECT version FROM modelport_schema")
            found = int(rows[0]["version"]) if rows else 0
            if found > SCHEMA_VERSION:
                raise UsageError(f"state store {self.display}: its schema is version {found}, newer than this "
                                 f"modelport understands ({SCHEMA_VERSION})", hint="upgrade modelport")
            for statements in migrations(self.dialect)[found:]:
                for sql in statements:
                    t.x(sql)
            if not rows:
                t.x("INSERT INTO modelport_schema (version) VALUES (?)", (SCHEMA_VERSION,))
            elif found < SCHEMA_VERSION:
                t.x("UPDATE modelport_schema SET version=?", (SCHEMA_VERSION,))
            return found

    @contextmanager
    def _fenced(self, name: str, fence: str | None) -> Iterator[Tx]:
        """A transaction that goes on only while lease ``fence`` is ``name``'s current one."""
        with self.tx() as t:
            if fence is not None:
                rows = t.q(f"SELECT token FROM locks WHERE name=?{self.dialect.for_update}", (name,))
                if not rows or rows[0]["token"] != fence:
                    raise LeaseLost(name, "found at a write to the state store")
            yield t

    # -- locks -------------------------------------------------------------------------------------
    def lock_read(self, name: str) -> LockRecord | None:
        with self.tx() as t:
            rows = t.q(f"SELECT *, {self.dialect.now} AS now FROM locks WHERE name=?", (name,))
        if not rows:
            return None
        r = rows[0]
        ttl = float(r["ttl"] or DEFAULT_TTL)
        age = float(r["now"]) - float(r["heartbeat"] if r["heartbeat"] is not None else r["acquired"])
        return LockRecord(name, r["holder"], int(r["pid"]), r["host"], r["username"] or "", r["operation"],
                          float(r["acquired"]), age, ttl, age > ttl, version=r["token"] or "")

    def lock_create(self, name: str, who: Holder, ttl: float) -> str | None:
        token = uuid.uuid4().hex
        now = self.dialect.now
        with self.tx() as t:
            made = t.x("INSERT INTO locks (name, holder, pid, host, operation, acquired, username, token, heartbeat,"
                       f" ttl) VALUES (?,?,?,?,NULL,{now},?,?,{now},?) ON CONFLICT (name) DO NOTHING",
                       (name, who.holder, who.pid, who.host, who.user, token, ttl))
        return token if made == 1 else None

    def lock_replace(self, name: str, seen: LockRecord, who: Holder, ttl: float) -> str | None:
        token = uuid.uuid4().hex
        now = self.dialect.now
        with self.tx() as t:
            made = t.x(f"UPDATE locks SET holder=?, pid=?, host=?, operation=NULL, acquired={now}, username=?,"
                       f" token=?, heartbeat={now}, ttl=? WHERE name=? AND COALESCE(token, '')=? AND pid=? AND host=?",
                       (who.holder, who.pid, who.host, who.user, token, ttl, name, seen.version, seen.pid,
                        seen.host))
        return token if made == 1 else None

    def lock_heartbeat(self, name: str, token: str, ttl: float) -> bool:
        with self.tx() as t:
            return t.x(f"UPDATE locks SET heartbeat={self.dialect.now}, ttl=? WHERE name=? AND token=?",
                       (ttl, name, token)) == 1

    def lock_set_operation(self, name: str, token: str, operation: int) -> None:
        with self.tx() as t:
            t.x("UPDATE locks SET operation=? WHERE name=? AND token=?", (operation, name, token))

    def lock_release(self, name: str, token: str) -> None:
        with self.tx() as t:
            t.x("DELETE FROM locks WHERE name=? AND token=?", (name, token))

    # -- journal -------------------------------------------------------------------------------------
    def insert_operation(self, row: Row, fence: str | None) -> int:
        cols = [c for c in TABLES["operations"] if c != "id"]
        with self._fenced(row["name"], fence) as t:
            rows = t.q(f"INSERT INTO operations ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) RETURNING id",
                       [row[c] for c in cols])
        return int(rows[0]["id"])

    def update_operation(self, name: str, op: int, fields: Row, fence: str | None) -> None:
        sets = ", ".join(f"{k}=?" for k in fields)
        with self._fenced(name, fence) as t:
            t.x(f"UPDATE operations SET {sets} WHERE id=?", [*fields.values(), op])

    def get_operation(self, op: int) -> Row | None:
        with self.tx() as t:
            rows = t.q("SELECT * FROM operations WHERE id=?", (op,))
        return rows[0] if rows else None

    def list_operations(self, name: str) -> list[Row]:
        with self.tx() as t:
            return t.q("SELECT * FROM operations WHERE name=? ORDER BY id", (name,))

    # -- records -------------------------------------------------------------------------------------
    def upsert_deployment(self, row: Row, fence: str | None) -> None:
        cols = TABLES["deployments"]
        with self._fenced(row["name"], fence) as t:
            t.x(f"INSERT INTO deployments ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                " ON CONFLICT (name, target) DO UPDATE SET provider=excluded.provider,"
                " spec_file=COALESCE(excluded.spec_file, deployments.spec_file), revision=excluded.revision,"
                " digest=excluded.digest, endpoint=excluded.endpoint, traffic=excluded.traffic,"
                " updated=excluded.updated", [row[c] for c in cols])

    def delete_deployment(self, name: str, target: str, ts: float, fence: str | None) -> None:
        with self._fenced(name, fence) as t:
            t.x("DELETE FROM deployments WHERE name=? AND target=?", (name, target))
            t.x("UPDATE revisions SET deleted=? WHERE name=? AND target=? AND deleted IS NULL", (ts, name, target))

    def list_deployments(self, name: str | None, target: str | None) -> list[Row]:
        sql, args = "SELECT * FROM deployments WHERE 1=1", []
        if name:
            sql, args = sql + " AND name=?", args + [name]
        if target:
            sql, args = sql + " AND target=?", args + [target]
        with self.tx() as t:
            return t.q(sql + " ORDER BY name, target", args)

    def upsert_revision(self, row: Row, fence: str | None) -> None:
        cols = TABLES["revisions"]
        with self._fenced(row["name"], fence) as t:
            t.x(f"INSERT INTO revisions ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                " ON CONFLICT (name, target, revision) DO UPDATE SET digest=excluded.digest,"
                " image_ref=excluded.image_ref, config=excluded.config, model_version=excluded.model_version,"
                " deleted=NULL, spec=excluded.spec", [row[c] for c in cols])

    def set_revision_deleted(self, name: str, target: str, revision: str, ts: float, fence: str | None) -> None:
        with self._fenced(name, fence) as t:
            t.x("UPDATE revisions SET deleted=? WHERE name=? AND target=? AND revision=?", (ts, name, target, revision))

    def list_revisions(self, name: str, target: str | None) -> list[Row]:
        sql, args = "SELECT * FROM revisions WHERE name=?", [name]
        if target:
            sql, args = sql + " AND target=?", args + [target]
        with self.tx() as t:
            return t.q(sql + " ORDER BY created", args)

    def insert_event(self, row: Row, fence: str | None) -> None:
        cols = [c for c in TABLES["events"] if c != "id"]
        with self._fenced(row["name"], fence) as t:
            t.x(f"INSERT INTO events ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", [row[c] for c in cols])

    def list_events(self, name: str) -> list[Row]:
        with self.tx() as t:
            return t.q("SELECT * FROM events WHERE name=? ORDER BY id", (name,))

    # -- copies ----------------------------------------------------------------------------------------
    def dump(self) -> dict[str, list[Row]]:
        order = {"deployments": "name, target", "revisions": "name, target, created", "operations": "id",
                 "events": "id"}
        with self.tx() as t:
            return {table: t.q(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order[table]}")
                    for table, cols in TABLES.items()}

    def load(self, tables: dict[str, list[Row]]) -> None:
        with self.tx() as t:
            for table, cols in TABLES.items():
                rows = tables.get(table, [])
                if table == "events":  # ids are per deployment in object stores: number them anew
                    cols = tuple(c for c in cols if c != "id")
                    rows = sorted(rows, key=lambda r: (r["ts"], r["id"]))
                for row in rows:
                    t.x(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                        [row.get(c) for c in cols])
            self.after_load(t)

    def after_load(self, t: Tx) -> None:
        """Make later ids continue after the loaded ones (SQLite's AUTOINCREMENT already does)."""
