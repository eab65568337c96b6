"""Secret scan on Azure Container Instances (the ARM emulator behind a recording HTTPS proxy).

Destinations: the ``env:``/``file:`` secrets go exactly in
``properties.containers[].properties.environmentVariables[].secureValue`` of the container-group
PUT, the ARM token (``token_env``) exactly in the ``Authorization`` header. Every other byte of
every request, and everything the CLI prints or stores, must hold no secret.
"""

from __future__ import annotations

import json

import pytest

import modelport.api as mp
from moto_fixtures.azure.fixtures import azure_emulator  # noqa: F401,F811  (the session's ARM emulator)
from moto_fixtures.azure.tls import make_tls_files

from .harness import remove_containers, AZURE_TOKEN_VAR, Allowed, make_project, scan_containers, scan_requests, scan_state, scan_tree
from .inproc import debug_logging, expect_error, scan_objects, session, user_environment
from .recorder import Interception

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

GROUPS = "/providers/Microsoft.ContainerInstance/containerGroups/"


def _secure_values(body) -> list[str]:
    return [e.get("secureValue") for c in body.get("properties", {}).get("containers", [])
            for e in c.get("properties", {}).get("environmentVariables", []) if "secureValue" in e]


def _echo_arm_error(body: bytes) -> bytes:
    """What a cloud that quotes the rejected request would answer."""
    return json.dumps({"error": {"code": "InvalidRequestContent",
                                 "message": f"The request content was invalid: {body.decode()[:4000]}"}}).encode()


@pytest.fixture(scope="module")
def arm(azure_emulator, tmp_path_factory):  # noqa: F811
    """The ARM emulator behind a recording proxy with its own TLS certificate."""
    tls = make_tls_files(tmp_path_factory.mktemp("proxy-tls"))
    proxy = Interception(azure_emulator.base_url, tls=(str(tls.cert_pem), str(tls.key_pem)),
                         upstream_ca=azure_emulator.ca_pem, flavour="azure")
    url = proxy.url
    try:
        yield azure_emulator, proxy, url, str(tls.ca_pem)
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def project(arm, workdir, seeds, registry, docker_client):
    emulator, _proxy, url, ca = arm
    name = "secaz" + workdir.name[-4:].lower().replace("_", "")
    target = {"provider": "azure", "subscription_id": emulator.subscription_id,
              "resource_group": emulator.resource_group, "location": emulator.location, "base_url": url,
              "ca_bundle": ca, "token_env": AZURE_TOKEN_VAR, "registry": f"{registry.host}/azure",
              "endpoint_host": "ip"}
    targets = {"azure": target, "dev": {"provider": "local"}}
    out = {"name": name, "v1": make_project(workdir / "az1", seeds, name, targets),
           "v2": make_project(workdir / "az2", seeds, name, targets, version="2"),
           # same image, another config: a new revision (a container-group PUT) on every swap
           "v3": make_project(workdir / "az3", seeds, name, targets, version="2", env={"VARIANT": "3"})}
    yield out
    remove_containers(docker_client, name)


def test_azure_every_command(cli, project, arm, seeds, docker_client):
    name, v1, v2 = project["name"], str(project["v1"]), str(project["v2"])
    cli("plan", v1, "--to", "azure")
    cli.json("deploy", v1, "--to", "azure")
    cli("status", name, "--to", "azure")
    cli("logs", name, "--to", "azure")
    cli.json("predict", name, "--to", "azure", "--input", str(project["v1"] / "sample.json"))
    cli("swap", v2, "--to", "azure", "--strategy", "blue-green")
    cli.json("rollback", name, "--to", "azure")
    cli("migrate", name, "--from", "azure", "--to", "dev")
    cli("history", name)
    scan_containers(cli.leaks, docker_client, name, [seeds["env: secret"], seeds["file: secret"]])
    cli.leaks.check()


def test_azure_errors_and_python_api(cli, project, arm, seeds, user_env):
    """A cloud error quoting the rejected request (secureValues in it), through the CLI and the
    API with DEBUG logging; a refused token."""
    _emulator, proxy, _url, _ca = arm
    name, v2 = project["name"], str(project["v3"])
    proxy.faults.append(("PUT", GROUPS, 400, _echo_arm_error))
    try:
        cli.json("swap", v2, "--to", "azure", ok=False)
        with user_environment(user_env), debug_logging(cli.leaks, "azure api"):
            s = session(user_env)
            plan = mp.plan(v2, "azure", session=s)
            scan_objects(cli.leaks, "azure api", plan, plan.to_dict(), plan.render(), s,
                         s.target(mp.validate(v2, s), "azure"))
            expect_error(cli.leaks, "azure api swap", lambda: mp.swap(v2, "azure", session=s))
    finally:
        proxy.faults.clear()
    cli("status", name, "--to", "azure", extra_env={AZURE_TOKEN_VAR: ""}, ok=False)
    cli.leaks.check()


def test_azure_destroy_then_scan_everything(cli, project, arm, seeds, user_env, scan_home, workdir):
    _emulator, proxy, _url, _ca = arm
    name = project["name"]
    cli("destroy", name, "--to", "azure")
    cli.json("destroy", name, "--to", "dev")
    cli("gc", str(project["v1"]), "--to", "azure")
    scan_state(cli.leaks, workdir / "state.db")
    scan_tree(cli.leaks, scan_home, "MODELPORT_HOME files")
    scan_tree(cli.leaks, workdir, "project and state folder", skip=tuple(workdir.glob("*/db-password.txt")))
    pick = _secure_values
    allowed = [Allowed("PUT", GROUPS, "env: secret", "properties.containers[].environmentVariables[].secureValue", pick),
               Allowed("PUT", GROUPS, "file: secret", "properties.containers[].environmentVariables[].secureValue", pick)]
    allowed += [Allowed(m, "/subscriptions/", "azure arm token", "Authorization") for m in
                ("GET", "PUT", "PATCH", "DELETE", "POST")]
    proven = scan_requests(cli.leaks, proxy.requests, allowed, "azure")
    assert proven["env: secret in PUT " + GROUPS + " properties.containers[].environmentVariables[].secureValue"] >= 3
    assert proven["file: secret in PUT " + GROUPS + " properties.containers[].environmentVariables[].secureValue"] >= 3
    assert proven["azure arm token in GET /subscriptions/ Authorization"] > 0
    cli.leaks.check()
