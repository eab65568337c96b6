"""Secret scan on AWS (the moto-based emulation behind a recording proxy).

Destinations: the ``env:``/``file:`` secrets go exactly in ``SecretString`` of Secrets Manager
``CreateSecret``/``PutSecretValue`` (the task definition references them by ARN); the session
token exactly in the ``X-Amz-Security-Token`` header; the secret access key nowhere (SigV4 only
signs with it). Every other byte of every request, and everything the CLI prints or stores,
must hold no secret.
"""

from __future__ import annotations

import json

import pytest

import modelport.api as mp

from .harness import remove_containers, Allowed, make_project, scan_containers, scan_requests, scan_state, scan_tree
from .inproc import debug_logging, expect_error, scan_objects, session, user_environment
from .recorder import Interception

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

CREATE, PUT = "secretsmanager.CreateSecret", "secretsmanager.PutSecretValue"


def _secret_string(body) -> list[str]:
    return [body.get("SecretString")]


def _echo_aws_error(body: bytes) -> bytes:
    """What a cloud that quotes the rejected request would answer."""
    return json.dumps({"__type": "InvalidRequestException",
                       "message": f"Invalid request: {body.decode()[:4000]}"}).encode()


@pytest.fixture(scope="module")
def aws(aws_emulation):
    """The session's AWS emulation behind a recording proxy (every API call of the provider)."""
    proxy = Interception(aws_emulation.endpoint_url, flavour="aws")
    url = proxy.url
    try:
        yield aws_emulation, proxy, url
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def project(aws, workdir, seeds, docker_client):
    emulation, _proxy, url = aws
    name = "secaws" + workdir.name[-4:].lower().replace("_", "")
    target = {"provider": "aws", "endpoint_url": url, "region": emulation.region,
              "registry": f"{emulation.registry}/modelport"}
    targets = {"aws": target}
    out = {"name": name, "v1": make_project(workdir / "a1", seeds, name, targets),
           "v2": make_project(workdir / "a2", seeds, name, targets, version="2", env={"VARIANT": "2"})}
    yield out
    try:
        mp.destroy(name, "aws", spec=out["v1"], session=session({"MODELPORT_STATE": str(workdir / "state.db")}))
    except Exception:  # noqa: BLE001 - best effort: the test destroyed it already
        pass
    remove_containers(docker_client, name)


def test_aws_every_command(cli, project, seeds, docker_client):
    name, v1 = project["name"], str(project["v1"])
    cli("plan", v1, "--to", "aws")
    cli.json("deploy", v1, "--to", "aws")
    cli("status", name, "--to", "aws")
    cli.json("logs", name, "--to", "aws")
    cli("predict", name, "--to", "aws", "--input", str(project["v1"] / "sample.json"))
    cli("history", name)
    scan_containers(cli.leaks, docker_client, name, [seeds["env: secret"], seeds["file: secret"]])
    cli.leaks.check()


def test_aws_errors_and_python_api(cli, project, aws, user_env):
    """A cloud error quoting the rejected request (SecretString in it), through the CLI and the
    API with DEBUG logging (botocore logs request parameters at DEBUG)."""
    _emulation, proxy, _url = aws
    v2 = str(project["v2"])
    proxy.faults.append(("POST", CREATE, 400, _echo_aws_error))
    try:
        cli.json("swap", v2, "--to", "aws", ok=False)
        with user_environment(user_env), debug_logging(cli.leaks, "aws api"):
            s = session(user_env)
            plan = mp.plan(v2, "aws", session=s)
            scan_objects(cli.leaks, "aws api", plan, plan.to_dict(), plan.render(), s.target(mp.validate(v2, s), "aws"))
            expect_error(cli.leaks, "aws api swap", lambda: mp.swap(v2, "aws", session=s))
    finally:
        proxy.faults.clear()
    cli.leaks.check()


def test_aws_destroy_then_scan_everything(cli, project, aws, scan_home, workdir):
    _emulation, proxy, _url = aws
    name = project["name"]
    cli("destroy", name, "--to", "aws")
    cli("gc", str(project["v1"]), "--to", "aws")
    scan_state(cli.leaks, workdir / "state.db")
    scan_tree(cli.leaks, scan_home, "MODELPORT_HOME files")
    scan_tree(cli.leaks, workdir, "project and state folder", skip=tuple(workdir.glob("*/db-password.txt")))
    allowed = [Allowed("POST", op, kind, "SecretString", _secret_string)
               for op in (CREATE, PUT) for kind in ("env: secret", "file: secret")]
    allowed += [Allowed("POST", "/", "aws session token", "X-Amz-Security-Token"),
                Allowed("GET", "/", "aws session token", "X-Amz-Security-Token")]
    proven = scan_requests(cli.leaks, proxy.requests, allowed, "aws")
    assert all(proven[f"{k} in POST {CREATE} SecretString"] for k in ("env: secret", "file: secret")), proven
    assert proven["aws session token in POST / X-Amz-Security-Token"] > 0, proven
    cli.leaks.check()
