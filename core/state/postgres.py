"""PostgreSQL (``postgresql://USER@HOST:PORT/DB``), through psycopg 3 (``modelport[postgres]``).

The password comes from where libpq looks (``PGPASSWORD``, ``~/.pgpass``, or the URL); it is
registered with :mod:`modelport.redact` and never shown: the store is named without it.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator
from urllib.parse import urlsplit, urlunsplit

from ..errors import UsageError
from ..redact import remember
from .sql import Dialect, SqlBackend, Tx

DIALECT = Dialect(param="%s", now="extract(epoch from clock_timestamp())::double precision",
                  serial="BIGSERIAL PRIMARY KEY", real="DOUBLE PRECISION", for_update=" FOR UPDATE")
#: any constant: the advisory lock that keeps two processes from migrating the schema at once
_MIGRATION_LOCK = 7401318


def without_password(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


class PostgresBackend(SqlBackend):
    """State in a PostgreSQL database; one connection per call (commands are short-lived, and a
    restarted server costs nothing), each call one transaction."""

    dialect = DIALECT

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise UsageError(f"--state {without_password(url)}: PostgreSQL needs psycopg",
                             hint="pip install 'modelport[postgres]'") from None
        self._psycopg = psycopg
        parts = urlsplit(url)
        remember(parts.password)
        self.url = url
        self.display = without_password(url)
        self.migrate_schema()

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self.url, connect_timeout=15, autocommit=False)
        except self._psycopg.Error as exc:
            from ..errors import ModelportError
            raise ModelportError(f"state store {self.display}: cannot connect: {_first_line(exc)}",
                                 hint="check the URL, that the server runs, and PGPASSWORD or ~/.pgpass") from None

    @contextmanager
    def tx(self, migrating: bool = False) -> Iterator[Tx]:
        conn = self._connect()
        try:
            with conn.transaction():
                cur = conn.cursor()
                if migrating:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                yield Tx(cur, "%s")
        finally:
            conn.close()

    def after_load(self, t: Tx) -> None:
        for table in ("operations", "events"):
            t.q(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 1), (SELECT MAX(id) FROM {table}) IS NOT NULL)")


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
