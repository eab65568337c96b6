"""SQLite: one file on this machine (the default; ``sqlite:///PATH`` or a plain path)."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .sql import Dialect, SqlBackend, Tx

DIALECT = Dialect(param="?", now="((julianday('now') - 2440587.5) * 86400.0)",
                  serial="INTEGER PRIMARY KEY AUTOINCREMENT", real="REAL", for_update="")


class SqliteBackend(SqlBackend):
    """State in a SQLite file (WAL mode; every call one ``BEGIN IMMEDIATE`` transaction, which
    serialises writers across processes)."""

    dialect = DIALECT

    def __init__(self, path: Path) -> None:
        self.path = path
        self.display = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
        finally:
            db.close()
        self.migrate_schema()

    @contextmanager
    def tx(self, migrating: bool = False) -> Iterator[Tx]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")  # also serialises schema migrations
            yield Tx(db.cursor(), "?")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()
