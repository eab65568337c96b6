"""Secret scan on Cloud Run (the Admin API v2 emulator behind a recording proxy).

Destination: the ``env:``/``file:`` secrets go exactly in ``template.containers[].env[].value``
of the service create (POST) and update (PATCH) requests. Every other byte of every request, and
everything the CLI prints or stores, must hold no secret.
"""

from __future__ import annotations

import json

import pytest

import modelport.api as mp

from .harness import remove_containers, Allowed, make_project, scan_containers, scan_requests, scan_state, scan_tree
from .inproc import debug_logging, expect_error, scan_objects, session, user_environment
from .recorder import Interception

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

SERVICES = "/services"


def _env_values(body) -> list[str]:
    return [e.get("value") for c in (body.get("template") or {}).get("containers", [])
            for e in c.get("env", []) if "value" in e]


def _echo_google_error(body: bytes) -> bytes:
    """What a cloud that quotes the rejected request would answer."""
    return json.dumps({"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                 "message": f"Invalid Service: {body.decode()[:4000]}"}}).encode()


@pytest.fixture(scope="module")
def cloud_run(gcp_emulator):
    """The session's Cloud Run emulator behind a recording proxy."""
    proxy = Interception(gcp_emulator.endpoint, flavour="gcp")
    url = proxy.url
    try:
        yield gcp_emulator, proxy, url
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def project(cloud_run, workdir, seeds, registry, docker_client):
    emulator, _proxy, url = cloud_run
    name = "secgcp" + workdir.name[-4:].lower().replace("_", "")
    target = {"provider": "gcp", "project": emulator.project, "region": emulator.region, "api_endpoint": url,
              "credentials": "anonymous", "registry": f"{registry.host}/gcp", "public": True}
    targets = {"gcp": target}
    out = {"name": name, "v1": make_project(workdir / "g1", seeds, name, targets),
           "v2": make_project(workdir / "g2", seeds, name, targets, version="2"),
           "v3": make_project(workdir / "g3", seeds, name, targets, version="2", env={"VARIANT": "3"})}
    yield out
    remove_containers(docker_client, name)


def test_gcp_every_command(cli, project, seeds, docker_client):
    name, v1, v2 = project["name"], str(project["v1"]), str(project["v2"])
    cli("plan", v1, "--to", "gcp")
    cli.json("deploy", v1, "--to", "gcp")
    cli.json("status", name, "--to", "gcp")
    cli("logs", name, "--to", "gcp", ok=False)  # Cloud Run logs are not offered: exit 2, scanned all the same
    cli("predict", name, "--to", "gcp", "--input", str(project["v1"] / "sample.json"))
    cli("swap", v2, "--to", "gcp", "--strategy", "blue-green")
    cli("rollback", name, "--to", "gcp")
    cli.json("history", name)
    scan_containers(cli.leaks, docker_client, name, [seeds["env: secret"], seeds["file: secret"]])
    cli.leaks.check()


def test_gcp_errors_and_python_api(cli, project, cloud_run, user_env):
    """A cloud error quoting the rejected request (env values in it), through the CLI and the API."""
    _emulator, proxy, _url = cloud_run
    v3 = str(project["v3"])
    proxy.faults.extend([("POST", SERVICES, 400, _echo_google_error), ("PATCH", SERVICES, 400, _echo_google_error)])
    try:
        cli("swap", v3, "--to", "gcp", ok=False)
        with user_environment(user_env), debug_logging(cli.leaks, "gcp api"):
            s = session(user_env)
            plan = mp.plan(v3, "gcp", session=s)
            scan_objects(cli.leaks, "gcp api", plan, plan.to_dict(), plan.render(), s.target(mp.validate(v3, s), "gcp"))
            expect_error(cli.leaks, "gcp api swap", lambda: mp.swap(v3, "gcp", session=s))
    finally:
        proxy.faults.clear()
    cli.leaks.check()


def test_gcp_destroy_then_scan_everything(cli, project, cloud_run, scan_home, workdir):
    _emulator, proxy, _url = cloud_run
    name = project["name"]
    cli("destroy", name, "--to", "gcp")
    cli.json("gc", str(project["v1"]), "--to", "gcp")
    scan_state(cli.leaks, workdir / "state.db")
    scan_tree(cli.leaks, scan_home, "MODELPORT_HOME files")
    scan_tree(cli.leaks, workdir, "project and state folder", skip=tuple(workdir.glob("*/db-password.txt")))
    allowed = [Allowed(m, SERVICES, kind, "template.containers[].env[].value", _env_values)
               for m in ("POST", "PATCH") for kind in ("env: secret", "file: secret")]
    proven = scan_requests(cli.leaks, proxy.requests, allowed, "gcp")
    assert sum(proven.values()) >= 4, proven  # both secrets in at least two writes
    assert all(proven[f"{k} in POST {SERVICES} template.containers[].env[].value"] for k in ("env: secret", "file: secret"))
    cli.leaks.check()
