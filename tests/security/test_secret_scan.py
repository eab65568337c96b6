"""Secrets never leak (issue 9, item 6).

Random secrets are seeded (an ``env:`` and a ``file:`` secret of the spec, a registry password,
a wrong registry password, and the cloud credentials the providers accept), the real CLI runs
every command with DEBUG logging of every library, and every byte that is not a secret's own
destination is scanned for the values and their derived forms (base64, URL-encoded,
JSON-escaped, repr, 8-character prefixes and suffixes): stdout/stderr, every file under
MODELPORT_HOME and the projects, the SQLite state (raw bytes, free pages, WAL), plan JSON,
exceptions of the Python API, the deployed model's container logs and inspect data, and (in the
``test_secret_scan_<cloud>`` modules) every request body sent to the cloud emulators.

This module: scanner self-checks, the local provider end to end, push/copy with the auth
registry, bad specs, and the Python API with DEBUG logging captured in-process.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
import traceback
from pathlib import Path
from urllib.parse import quote

import pytest

import modelport.api as mp
from modelport.engine.session import Session
from modelport.errors import ModelportError
from modelport.state import StateStore

from .harness import (REGISTRY_PASSWORD_VAR, SECRET_FILE, WRONG_PASSWORD_VAR, Allowed, make_project,
                      scan_containers, scan_requests, scan_state, scan_tree)
from .recorder import Captured

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


# -- the scanner can fail ----------------------------------------------------------------------------

def test_scanner_finds_every_derived_form(leaks, seeds, tmp_path):
    """Each form a leak takes is caught, in files, gzip, SQLite free pages and requests."""
    import gzip

    for n, seed in enumerate(seeds.values()):
        v = seed.value
        forms = [v[:8], v[-8:], quote(v, safe=""), json.dumps({"x": v}), repr(v),
                 base64.b64encode(b"user:" + v.encode()).decode(), base64.b64encode(v.encode()).decode()]
        for m, form in enumerate(forms):
            leaks.scan(f"self-check {n}.{m}", f"some text around {form} and after", "self-check")
            assert len(leaks.hits) == 1, (seed, m)
            leaks.hits.clear()
    v = seeds["env: secret"].value
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "blob.gz").write_bytes(gzip.compress(b"layer " + v.encode()))
    scan_tree(leaks, tmp_path / "tree", "self-check")
    assert [h.kind for h in leaks.hits] == ["env: secret"]
    leaks.hits.clear()
    db = tmp_path / "state.db"
    with sqlite3.connect(db) as con:  # a deleted row stays in a free page
        con.execute("pragma secure_delete = 0")  # Debian's SQLite zeroes freed pages by default
        con.execute("create table t (x text)")
        con.execute("insert into t values (?)", (v * 50,))
        con.commit()
        con.execute("delete from t")
    scan_state(leaks, db)
    assert [h.kind for h in leaks.hits] == ["env: secret"]
    leaks.hits.clear()


def test_request_scan_allows_only_the_destination_field(leaks, seeds):
    v = seeds["env: secret"].value
    pick = lambda body: [e.get("secureValue") for e in body["env"]]  # noqa: E731
    rule = Allowed("PUT", "/groups/", "env: secret", "env[].secureValue", pick)
    ok = Captured("PUT", "/groups/a", {}, json.dumps({"env": [{"secureValue": v}]}).encode())
    twice = Captured("PUT", "/groups/b", {}, json.dumps({"env": [{"secureValue": v}], "tag": v}).encode())
    elsewhere = Captured("POST", "/other", {}, json.dumps({"value": v}).encode())
    proven = scan_requests(leaks, [ok], [rule], "self-check")
    assert not leaks.hits and list(proven.values()) == [1]
    scan_requests(leaks, [twice, elsewhere], [rule], "self-check")
    assert sorted(h.place for h in leaks.hits) == ["self-check request #0 PUT /groups/b body",
                                                   "self-check request #1 POST /other body"]
    leaks.hits.clear()


def test_cli_output_scan_catches_an_echo(cli, seeds, workdir):
    """A command that echoes its input (a missing spec path named after a secret) is caught."""
    cli("validate", str(workdir / seeds["file: secret"].value[:10]), ok=False)
    assert {h.kind for h in cli.leaks.hits} == {"file: secret"}
    cli.leaks.hits.clear()


# -- the local provider, registries, every command ------------------------------------------------------

@pytest.fixture(scope="module")
def local(workdir, seeds, registry, auth_registry, docker_client):
    """An iris project with local targets and registry targets (one needs the auth registry)."""
    name = "seclocal" + workdir.name[-6:].replace("_", "").lower()[:6]
    auth = {"provider": "aws", "region": "us-east-1", "registry": f"{auth_registry.host}/sec",
            "registry_username": auth_registry.username}
    targets = {"dev": {"provider": "local"}, "staging": {"provider": "local"},
               "mirror": {"provider": "local", "registry": f"{registry.host}/sec"},
               "authed": {**auth, "registry_password_env": REGISTRY_PASSWORD_VAR},
               "wrongpw": {**auth, "registry_password_env": WRONG_PASSWORD_VAR}}
    v1 = make_project(workdir / "v1", seeds, name, targets)
    v2 = make_project(workdir / "v2", seeds, name, targets, version="2")
    broken = make_project(workdir / "gate", seeds, name, targets, version="2", shape=[7])
    yield {"name": name, "v1": v1, "v2": v2, "broken": broken}
    for c in docker_client.containers.list(all=True, filters={"label": f"io.modelport.deployment={name}"}):
        c.remove(force=True)


def test_local_every_command(cli, local, seeds, docker_client, registry, auth_registry):
    name, v1, v2 = local["name"], str(local["v1"]), str(local["v2"])
    cli("validate", v1, debug=False)
    cli.json("validate", v1)
    cli("plan", v1, "--to", "dev")
    plan = cli.json("plan", v1, "--to", "dev")
    assert plan["changes"], plan
    cli.leaks.scan("plan JSON (parsed, re-serialised)", json.dumps(plan), "plan JSON")
    deployed = cli.json("deploy", v1, "--to", "dev")
    assert deployed["status"] == "succeeded"
    cli("status")
    cli.json("status", name)
    cli("history", name)
    cli.json("history", name)
    cli("logs", name, "--to", "dev")
    cli("predict", name, "--to", "dev", "--input", str(local["v1"] / "sample.json"))
    cli("swap", v2, "--to", "dev")
    cli("rollback", name, "--to", "dev")
    cli("migrate", name, "--from", "dev", "--to", "staging", "--gate-timeout", "120")
    # a failing health gate (the smoke request's output shape is wrong): rolled back, exit 1
    failed = cli("swap", str(local["broken"]), "--to", "staging", ok=False)
    assert failed.returncode == 1
    cli.json("history", name)
    cli.json("status", name, "--to", "staging")
    found = scan_containers(cli.leaks, docker_client, name, [seeds["env: secret"], seeds["file: secret"]])
    assert found >= 2
    cli("destroy", name, "--to", "dev")
    cli.json("destroy", name, "--to", "staging")
    cli("gc", v1, "--to", "dev")
    print(*cli.ran, sep="\n")
    cli.leaks.check()


def test_push_and_copy_with_the_auth_registry(cli, local, registry, auth_registry):
    v1 = str(local["v1"])
    pushed = cli.json("push", v1, "--to", "mirror")
    cli("push", v1, "--to", "authed")
    wrong = cli("push", v1, "--to", "wrongpw", ok=False)
    assert "401" in wrong.stderr or "denied" in wrong.stderr
    source = f"{registry.host}/sec/{local['name']}@{pushed['digest']}"
    dest = f"{auth_registry.host}/copies/{local['name']}"
    user = {"MODELPORT_DEST_USERNAME": auth_registry.username}
    cli("copy", source, dest, extra_env={**user, "MODELPORT_DEST_PASSWORD": auth_registry.password})
    cli.json("copy", source, dest + "-json", extra_env={**user, "MODELPORT_DEST_PASSWORD": auth_registry.password})
    cli("copy", source, dest + "-wrong", ok=False,
        extra_env={**user, "MODELPORT_DEST_PASSWORD": cli.env[WRONG_PASSWORD_VAR]})
    cli.json("copy", source, dest + "-wrong", ok=False,
             extra_env={**user, "MODELPORT_DEST_PASSWORD": cli.env[WRONG_PASSWORD_VAR]})
    # the auth registry as the source, with its password (and a wrong one)
    cli("copy", f"{dest}@{pushed['digest']}", f"{registry.host}/back/{local['name']}",
        extra_env={"MODELPORT_SRC_USERNAME": auth_registry.username, "MODELPORT_SRC_PASSWORD": auth_registry.password})
    cli("copy", f"{dest}@{pushed['digest']}", f"{registry.host}/back2/{local['name']}", ok=False,
        extra_env={"MODELPORT_SRC_USERNAME": auth_registry.username,
                   "MODELPORT_SRC_PASSWORD": cli.env[WRONG_PASSWORD_VAR]})
    cli.leaks.check()
