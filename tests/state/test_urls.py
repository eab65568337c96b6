"""Choosing a backend by URL, and SQLite files written before leases: an unknown scheme is bad
input (exit 2) naming it, before anything is created; a store file of the first schema is
migrated in place keeping its rows; a store of a newer schema is refused; a password in a URL
is never shown."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

from modelport.errors import UsageError
from modelport.state import StateStore
from modelport.state.postgres import without_password

from .helpers import REPO

# the schema every SQLite state file had before this change (issue 18)
V1 = """
CREATE TABLE deployments (name TEXT NOT NULL, target TEXT NOT NULL, provider TEXT NOT NULL, spec_file TEXT,
  revision TEXT, digest TEXT, endpoint TEXT, traffic TEXT, created REAL NOT NULL, updated REAL NOT NULL,
  PRIMARY KEY (name, target));
CREATE TABLE revisions (name TEXT NOT NULL, target TEXT NOT NULL, revision TEXT NOT NULL, digest TEXT NOT NULL,
  image_ref TEXT, config TEXT, model_version TEXT, created REAL NOT NULL, deleted REAL, spec TEXT,
  PRIMARY KEY (name, target, revision));
CREATE TABLE operations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, kind TEXT NOT NULL,
  targets TEXT NOT NULL, status TEXT NOT NULL, holder TEXT NOT NULL, pid INTEGER, host TEXT,
  plan TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, undone INTEGER NOT NULL DEFAULT 0,
  context TEXT NOT NULL DEFAULT '{}', error TEXT, started REAL NOT NULL, finished REAL);
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, target TEXT, operation INTEGER,
  ts REAL NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}');
CREATE TABLE locks (name TEXT PRIMARY KEY, holder TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
  operation INTEGER, acquired REAL NOT NULL);
"""


def _cli(*args: str, cwd, env: dict | None = None) -> subprocess.CompletedProcess:
    import os
    return subprocess.run([sys.executable, "-m", "modelport", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


@pytest.mark.parametrize("url, scheme", [("postgresq://u@h/db", "postgresq"), ("gs://bucket/state", "gs"),
                                         ("file:///tmp/x", "file"), ("HTTP://x/y", "http")])
def test_an_unknown_scheme_is_bad_input_naming_it(url, scheme, tmp_path):
    for args, env in ((["--state", url, "status"], None), (["status", "--output", "json"], {"MODELPORT_STATE": url}),
                      (["state", "migrate", "--to", url], {"MODELPORT_STATE": str(tmp_path / "s.db")})):
        proc = _cli(*args, cwd=tmp_path, env=env)
        assert proc.returncode == 2, proc.stderr
        assert f"unknown state backend scheme {scheme!r}" in proc.stderr and "postgresql://" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert not [p.name for p in tmp_path.iterdir() if ":" in p.name]  # no folder named after the scheme


def test_sqlite_urls_and_bad_ones(tmp_path):
    path = tmp_path / "a" / "state.db"
    store = StateStore(f"sqlite://{path}")  # sqlite:///tmp/...
    assert store.path == path and path.exists()
    assert StateStore(f"sqlite:///{path}").path == path  # SQLAlchemy's four slashes: the same file
    with pytest.raises(UsageError, match="three slashes"):
        StateStore("sqlite://relative.db")
    proc = _cli("--state", str(tmp_path), "status", cwd=tmp_path)  # a folder
    assert proc.returncode == 2 and "cannot open the state database" in proc.stderr


def test_a_first_schema_file_is_migrated_keeping_its_rows(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(V1)
        db.execute("INSERT INTO deployments VALUES ('iris','dev','local','/p',"
                   "'r1','sha256:1',NULL,'{\"r1\": 100}',1,1)")
        db.execute("INSERT INTO operations (name, kind, targets, status, holder, pid, host, plan, started)"
                   " VALUES ('iris','deploy','[\"dev\"]','succeeded','h',1,'x','[]',1)")
        db.execute("INSERT INTO locks VALUES ('iris','modelport deploy (pid 1 on ci-7)',1,'ci-7',NULL,?)",
                   (time.time(),))
    store = StateStore(path)
    assert store.deployments("iris")[0]["traffic"] == {"r1": 100}
    assert [o.status for o in store.operations("iris")] == ["succeeded"]
    lock = store.lock_holder("iris")  # an old lock: its heartbeat is when it was taken
    assert lock.host == "ci-7" and not lock.expired
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM modelport_schema").fetchall() == [(2,)]
        db.execute("UPDATE modelport_schema SET version=99")
    with pytest.raises(UsageError, match="schema is version 99, newer than this modelport"):
        StateStore(path)


def test_a_password_is_never_shown(tmp_path):
    assert without_password("postgresql://deploy:s3cr%2Ft@db:5432/mp") == "postgresql://deploy:***@db:5432/mp"
    assert without_password("postgresql://deploy@db/mp") == "postgresql://deploy@db/mp"
    proc = _cli("--state", "postgresql://deploy:hunter2hunter2@127.0.0.1:1/mp", "status", cwd=tmp_path)
    assert proc.returncode == 1 and "hunter2" not in proc.stdout + proc.stderr, proc.stderr
    assert "postgresql://deploy:***@127.0.0.1:1/mp" in proc.stderr and "cannot connect" in proc.stderr


def test_a_bad_lock_ttl_is_bad_input(tmp_path):
    proc = _cli("status", cwd=tmp_path, env={"MODELPORT_LOCK_TTL": "nan", "MODELPORT_STATE": str(tmp_path / "s.db")})
    assert proc.returncode == 2 and "MODELPORT_LOCK_TTL" in proc.stderr
