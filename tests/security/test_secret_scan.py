"""Secrets never leak (issue 9, item 6).

Random secrets are seeded (an ``env:`` and a ``file:`` secret of the spec, a registry password,
a wrong registry password, and the cloud credentials the providers accept), the real CLI runs
every command with DEBUG logging of every library, and every byte that is not a secret's own
destination is scanned for the values and their derived forms (base64, URL-encoded,
JSON-escaped, repr, 8-character prefixes and suffixes): stdout/stderr, every file under
MODELPORT_HOME and the projects, the SQLite state (raw bytes, free pages, WAL), plan JSON,
exceptions of the Python API, the deployed model's container logs and inspect data, and (in
``test_secret_scan_clouds``, once per cloud) every request body sent to the cloud emulators.

This module: scanner self-checks, the local provider end to end, push/copy with the auth
registry, bad specs, and the Python API with DEBUG logging captured in-process.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sqlite3
import subprocess
import sys
from urllib.parse import quote

import pytest

import modelport.api as mp
from modelport.errors import ModelportError

from .harness import (ENV_SECRET_VAR, REGISTRY_PASSWORD_VAR, SECRET_FILE, WRONG_PASSWORD_VAR, Allowed,
                      make_project, remove_containers, scan_containers, scan_requests, scan_state, scan_tree)
from .inproc import debug_logging, expect_error, session, user_environment
from .recorder import Captured, Interception

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


def test_logging_exception_and_container_scans_catch_a_leak(leaks, seeds, docker_client, base_image):
    """A DEBUG record, an exception and a container's log holding a seed are each caught (the
    seed is one modelport never reads, so its own redaction cannot hide it)."""
    value = seeds["azure client secret"].value
    with debug_logging(leaks, "self-check"):
        logging.getLogger("selfcheck.lib").debug("token=%s", value[:12])
    assert [h.kind for h in leaks.hits] == ["azure client secret"]
    leaks.hits.clear()

    def boom():
        raise RuntimeError(f"bad value {value}")
    expect_error(leaks, "self-check", boom)
    assert [h.kind for h in leaks.hits] == ["azure client secret"]
    leaks.hits.clear()
    marker = f"selfcheck{os.getpid()}"
    docker_client.containers.run(base_image, ["python3", "-c", f"print({value[-10:]!r})"], name=marker,
                                 network_mode="none")
    try:
        assert scan_containers(leaks, docker_client, marker) == 1
    finally:
        remove_containers(docker_client, marker)
    # its log, and its inspect data (the command line holds the value too)
    assert sorted(h.place for h in leaks.hits) == [f"container {marker} inspect (without Env)",
                                                   f"container {marker} logs"]
    leaks.hits.clear()


def test_cli_output_scan_catches_an_echo(cli, seeds, workdir):
    """A command that echoes its input (a missing spec path named after a secret) is caught."""
    cli("validate", str(workdir / seeds["file: secret"].value[:10]), ok=False)
    assert {h.kind for h in cli.leaks.hits} == {"file: secret"}
    cli.leaks.hits.clear()


# -- the local provider, registries, every command ------------------------------------------------------

@pytest.fixture(scope="module")
def auth_proxy(auth_registry):
    """The auth registry behind a recording proxy: every request modelport sends it is scanned."""
    proxy = Interception(auth_registry.url)
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def local(workdir, seeds, registry, auth_registry, auth_proxy, docker_client):
    """An iris project with local targets and registry targets (one needs the auth registry)."""
    name = "seclocal" + workdir.name[-6:].replace("_", "").lower()[:6]
    host = auth_proxy.url.split("://", 1)[1]
    auth = {"provider": "aws", "region": "us-east-1", "registry": f"{host}/sec",
            "registry_username": auth_registry.username}
    targets = {"dev": {"provider": "local"}, "staging": {"provider": "local"},
               "mirror": {"provider": "local", "registry": f"{registry.host}/sec"},
               "authed": {**auth, "registry_password_env": REGISTRY_PASSWORD_VAR},
               "wrongpw": {**auth, "registry_password_env": WRONG_PASSWORD_VAR}}
    v1 = make_project(workdir / "v1", seeds, name, targets)
    broken = make_project(workdir / "gate", seeds, name, targets, shape=[7])
    yield {"name": name, "v1": v1, "broken": broken}
    for c in docker_client.containers.list(all=True, filters={"label": f"io.modelport.deployment={name}"}):
        c.remove(force=True)


def test_local_every_command(cli, local, seeds, docker_client, registry, auth_registry):
    name, v1 = local["name"], str(local["v1"])
    cli("validate", v1, debug=False)
    cli.json("validate", v1)
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
    cli("migrate", name, "--from", "dev", "--to", "staging", "--gate-timeout", "120")
    # a failing health gate (the smoke request's output shape is wrong): rolled back, exit 1
    failed = cli("swap", str(local["broken"]), "--to", "staging", ok=False)
    assert failed.returncode == 1
    cli.json("history", name)
    cli.json("status", name, "--to", "staging")
    found = scan_containers(cli.leaks, docker_client, name,
                            [seeds["env: secret"], seeds["file: secret"], seeds["model api key"]])
    assert found >= 2
    cli("destroy", name, "--to", "dev")
    cli.json("destroy", name, "--to", "staging")
    cli("gc", v1, "--to", "dev")
    cli.leaks.check()


def test_push_and_copy_with_the_auth_registry(cli, local, registry, auth_registry, auth_proxy):
    v1 = str(local["v1"])
    pushed = cli.json("push", v1, "--to", "mirror")
    cli("push", v1, "--to", "authed")
    wrong = cli("push", v1, "--to", "wrongpw", ok=False)
    assert "401" in wrong.stderr or "denied" in wrong.stderr
    source = f"{registry.host}/sec/{local['name']}@{pushed['digest']}"
    dest = f"{auth_proxy.url.split('://', 1)[1]}/copies/{local['name']}"
    user = {"MODELPORT_DEST_USERNAME": auth_registry.username}
    cli("copy", source, dest, extra_env={**user, "MODELPORT_DEST_PASSWORD": auth_registry.password})
    cli.json("copy", source, dest + "-json", extra_env={**user, "MODELPORT_DEST_PASSWORD": auth_registry.password})
    cli("copy", source, dest + "-wrong", ok=False,  # with tracebacks on, as a user debugging it would
        extra_env={**user, "MODELPORT_DEST_PASSWORD": cli.env[WRONG_PASSWORD_VAR], "MODELPORT_DEBUG": "1"})
    cli.json("copy", source, dest + "-wrong", ok=False,
             extra_env={**user, "MODELPORT_DEST_PASSWORD": cli.env[WRONG_PASSWORD_VAR]})
    # the auth registry as the source, with its password (and a wrong one)
    cli("copy", f"{dest}@{pushed['digest']}", f"{registry.host}/back/{local['name']}",
        extra_env={"MODELPORT_SRC_USERNAME": auth_registry.username, "MODELPORT_SRC_PASSWORD": auth_registry.password})
    cli("copy", f"{dest}@{pushed['digest']}", f"{registry.host}/back2/{local['name']}", ok=False,
        extra_env={"MODELPORT_SRC_USERNAME": auth_registry.username,
                   "MODELPORT_SRC_PASSWORD": cli.env[WRONG_PASSWORD_VAR]})
    # every request to the registry: the passwords only in the Authorization header
    allowed = [Allowed(m, "/v2/", kind, "Authorization") for m in ("GET", "HEAD", "POST", "PUT", "PATCH")
               for kind in ("registry password", "wrong registry password")]
    proven = scan_requests(cli.leaks, auth_proxy.requests, allowed, "auth registry")
    assert proven["registry password in PUT /v2/ Authorization"] > 0, proven
    assert proven["wrong registry password in HEAD /v2/ Authorization"] + proven[
        "wrong registry password in GET /v2/ Authorization"] > 0, proven
    cli.leaks.check()


# -- bad input that might echo a secret -------------------------------------------------------------------

def _toml(value: str) -> str:
    return json.dumps(value)  # a TOML basic string for these characters


def test_bad_specs_do_not_echo_secrets(cli, seeds, workdir, user_env):
    """A secret pasted into [secrets] instead of a reference; a broken field next to a secret
    pasted into [env]; a TOML syntax error on the line after it; an unsupported scheme whose
    'reference' is a secret. Text and JSON output, and the Python API's exceptions."""
    env_value, file_value = seeds["env: secret"].value, seeds["file: secret"].value
    base = make_project(workdir / "badspec", seeds, "badspec", {"dev": {"provider": "local"}})
    good = (base / "modelport.toml").read_text()
    cases = {
        "pasted": good.replace('API_TOKEN = "env:', f'PASTED = {_toml(env_value)}\nAPI_TOKEN = "env:'),
        "neighbour": good.replace("[env]", f"[env]\nDB_URL = {_toml(file_value)}\nbad-name = 12")
                         .replace("cpu = 1", f'cpu = "lots {env_value[:3]}"'),
        "syntax": good.replace("[env]", f"[env]\nDB_URL = {_toml(file_value)}\nBROKEN = = {_toml(env_value)}"),
        "scheme": good.replace(f'"env:{ENV_SECRET_VAR}"', _toml(f"vault:{env_value}")),
    }
    for case, text in cases.items():
        spec = workdir / f"bad-{case}.toml"
        spec.write_text(text)
        (workdir / SECRET_FILE).write_text(file_value)
        command = "deploy" if case == "scheme" else "validate"
        extra = ("--to", "dev") if command == "deploy" else ()
        cli(command, str(spec), *extra, ok=False)
        cli(command, str(spec), *extra, "--output", "json", ok=False)
        with user_environment(user_env), debug_logging(cli.leaks, f"bad spec {case}"):
            s = session(user_env)
            call = (lambda: mp.deploy(spec, "dev", session=s)) if command == "deploy" else (lambda: mp.validate(spec, s))
            exc = expect_error(cli.leaks, f"bad spec {case}", call)
            assert isinstance(exc, ModelportError) and exc.exit_code == 2, exc
        (workdir / SECRET_FILE).unlink()
    cli.leaks.check()


def test_unreadable_and_missing_secrets(cli, seeds, workdir):
    """A file: secret that is a folder, an env: secret that is not set: the error names the
    reference, never a value (the env var of the other secret is still set)."""
    base = make_project(workdir / "missing", seeds, "missingsec", {"dev": {"provider": "local"}})
    (base / SECRET_FILE).unlink()
    (base / SECRET_FILE).mkdir()
    cli("deploy", str(base), "--to", "dev", ok=False)
    (base / SECRET_FILE).rmdir()
    (base / SECRET_FILE).write_text(seeds["file: secret"].value)
    env = {k: v for k, v in cli.env.items() if k != ENV_SECRET_VAR}
    proc = subprocess.run([sys.executable, "-m", "modelport", "deploy", str(base), "--to", "dev"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and ENV_SECRET_VAR in proc.stderr, proc.stderr[-500:]
    cli.leaks.scan("deploy with the env: secret unset", proc.stdout + proc.stderr, "cli stderr")
    cli.leaks.check()


def test_local_state_and_files_hold_no_secret(cli, local, scan_home, workdir):
    """After every command above: the state file (raw bytes, WAL), MODELPORT_HOME (image layers
    decompressed, wheel cache, traffic files) and the projects (but the secret file itself)."""
    assert (workdir / "state.db").exists()
    scan_state(cli.leaks, workdir / "state.db")
    scan_tree(cli.leaks, scan_home, "MODELPORT_HOME files")
    # the secret file and the bad specs this module wrote with secrets in them are inputs, not output
    inputs = (*workdir.glob(f"*/{SECRET_FILE}"), *workdir.glob("bad-*.toml"))
    scan_tree(cli.leaks, workdir, "project and state folder", skip=inputs)
    cli.leaks.check()
