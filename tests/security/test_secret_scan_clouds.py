"""Secret scan on the emulated clouds, each behind a recording proxy: the same three tests for
aws (moto-based emulation), gcp (Cloud Run Admin API v2 emulator) and azure (ARM emulator, HTTPS
proxy with its own certificate), parametrized by :class:`Cloud`.

Destinations, the only place each secret may travel:

* aws: the ``env:``/``file:`` secrets exactly in ``SecretString`` of Secrets Manager
  ``CreateSecret``/``PutSecretValue`` (the task definition references them by ARN); the session
  token exactly in the ``X-Amz-Security-Token`` header; the secret access key nowhere (SigV4 only
  signs with it);
* every cloud: the ``[access] api_key`` (the runtime's ``MODELPORT_API_KEY``) exactly where the
  ``env:``/``file:`` secrets go;
* gcp: the ``env:``/``file:`` secrets exactly in ``template.containers[].env[].value`` of the
  service create (POST) and update (PATCH) requests;
* azure: the ``env:``/``file:`` secrets exactly in
  ``properties.containers[].properties.environmentVariables[].secureValue`` of the container-group
  PUT, the registry password (a private registry with a user, as an ACR admin user is) exactly in
  ``properties.imageRegistryCredentials[].password`` of that PUT, the ARM token (``token_env``)
  exactly in the ``Authorization`` header;
* azure-apps: the ``env:``/``file:`` secrets and the API key exactly in ``properties.configuration.secrets[].value``
  of the container-app PUT, the ARM token exactly in the ``Authorization`` header.

Every other byte of every request, and everything the CLI prints or stores, must hold no secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

import httpx
import pytest

import modelport.api as mp
from moto_fixtures.azure.fixtures import azure_emulator  # noqa: F401  (the session's ARM emulator)
from moto_fixtures.azure.tls import make_tls_files
from tests.iris import SAMPLE

from .harness import (AZURE_TOKEN_VAR, REGISTRY_PASSWORD_VAR, REGISTRY_USER_VAR, Allowed, make_project, remove_containers, scan_containers, scan_requests,
                      scan_state, scan_tree)
from .inproc import debug_logging, expect_error, scan_objects, session, user_environment
from .recorder import Interception
from .seeds import Secret

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


@dataclass(frozen=True)
class Run:
    """One ``modelport`` command line; ``{name}``, ``{v1}``... name the project's parts."""

    args: tuple[str, ...]
    json: bool = False
    ok: bool = True
    env: dict[str, str] = field(default_factory=dict)

    def __call__(self, cli, project: dict) -> None:
        args = [a.format(**{k: str(v) for k, v in project.items()}) for a in self.args]
        run = cli.json if self.json else cli
        run(*args, ok=self.ok, extra_env=self.env or None)


@dataclass(frozen=True)
class Cloud:
    """What differs between the clouds: the proxy and target, the commands, the destinations."""

    name: str
    start: Callable  # (request, tmp_path_factory) -> (proxy, targets)
    prefix: str  # of the deployment name
    versions: dict[str, dict]  # project key -> make_project options
    every_command: tuple[Run, ...]
    rejected: tuple[tuple[str, str], ...]  # (method, path) the cloud answers with an error quoting the request
    echo: Callable[[bytes], bytes]
    rejected_swap: Run
    api_project: str  # the project the Python API swaps while the cloud rejects it
    destroy: tuple[Run, ...]
    allowed: Callable[[], list[Allowed]]
    proven: Callable[[dict[str, int]], None]
    after_errors: tuple[Run, ...] = ()
    minted: Callable | None = None  # (request) -> secrets the cloud handed out meanwhile (tokens)


#: the secrets the spec hands the runtime, with one destination on each cloud: [secrets] env:/file:
#: and [access] api_key (the runtime's MODELPORT_API_KEY)
RUNTIME_SECRETS = ("env: secret", "file: secret", "model api key")


# -- aws ------------------------------------------------------------------------------------------------

CREATE, PUT = "secretsmanager.CreateSecret", "secretsmanager.PutSecretValue"


def _aws_start(request, _tmp):
    emulation = request.getfixturevalue("aws_emulation")
    proxy = Interception(emulation.endpoint_url, flavour="aws")
    return proxy, {"aws": {"provider": "aws", "endpoint_url": proxy.url, "region": emulation.region,
                           "registry": f"{emulation.registry}/modelport"}}


def _aws_error(body: bytes) -> bytes:
    """What a cloud that quotes the rejected request would answer."""
    return json.dumps({"__type": "InvalidRequestException",
                       "message": f"Invalid request: {body.decode()[:4000]}"}).encode()


def _aws_allowed() -> list[Allowed]:
    allowed = [Allowed("POST", op, kind, "SecretString", lambda body: [body.get("SecretString")])
               for op in (CREATE, PUT) for kind in RUNTIME_SECRETS]
    return allowed + [Allowed("POST", "/", "aws session token", "X-Amz-Security-Token"),
                      Allowed("GET", "/", "aws session token", "X-Amz-Security-Token")]


def _aws_proven(proven: dict[str, int]) -> None:
    assert all(proven[f"{k} in POST {CREATE} SecretString"] for k in RUNTIME_SECRETS), proven
    assert proven["aws session token in POST / X-Amz-Security-Token"] > 0, proven


AWS = Cloud(
    name="aws", start=_aws_start, prefix="secaws", versions={"v1": {}, "v2": {"version": "2", "env": {"VARIANT": "2"}}},
    every_command=(Run(("plan", "{v1}", "--to", "aws")), Run(("deploy", "{v1}", "--to", "aws"), json=True),
                   Run(("status", "{name}", "--to", "aws")), Run(("logs", "{name}", "--to", "aws"), json=True),
                   Run(("predict", "{name}", "--to", "aws", "--input", "{v1}/sample.json")),
                   Run(("history", "{name}"))),
    rejected=(("POST", CREATE),), echo=_aws_error,
    rejected_swap=Run(("swap", "{v2}", "--to", "aws"), json=True, ok=False), api_project="v2",
    destroy=(Run(("destroy", "{name}", "--to", "aws")), Run(("gc", "{v1}", "--to", "aws"))),
    allowed=_aws_allowed, proven=_aws_proven)


# -- gcp ------------------------------------------------------------------------------------------------

SERVICES = "/services"


def _gcp_start(request, _tmp):
    """A private service (the default) and google-auth's default chain: the user's environment
    names the emulated Google identity's service-account key file, whose private key is a secret
    that must never leave the file (only signatures do)."""
    emulator, registry = request.getfixturevalue("gcp_emulator"), request.getfixturevalue("registry")
    proxy = Interception(emulator.endpoint, flavour="gcp")
    request.getfixturevalue("user_env")["GOOGLE_APPLICATION_CREDENTIALS"] = emulator.credentials_file
    request.getfixturevalue("leaks").scanner.add(Secret("gcp service account key", _key_body(emulator.credentials_file)))
    return proxy, {"gcp": {"provider": "gcp", "project": emulator.project, "region": emulator.region,
                           "api_endpoint": proxy.url, "registry": f"{registry.host}/gcp"}}


def _key_body(key_file: str) -> str:
    """A random stretch of the key file's private key (its PEM header, and the first bytes of
    every RSA key's DER, are the same in all keys: those would match any key)."""
    lines = json.loads(open(key_file).read())["private_key"].splitlines()
    return lines[3]  # one 64-character line from inside the key


def _gcp_minted(request) -> list[Secret]:
    """The ID and access tokens the emulated Google identity handed out while the commands ran
    (the ID tokens' signatures: their header is the same in every token)."""
    issued = request.getfixturevalue("gcp_emulator").emulator.tokens.issued
    return [Secret("gcp token", t.rsplit(".", 1)[-1]) for t in issued]


def _gcp_error(body: bytes) -> bytes:
    """What a cloud that quotes the rejected request would answer."""
    return json.dumps({"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                 "message": f"Invalid Service: {body.decode()[:4000]}"}}).encode()


def _env_values(body) -> list[str]:
    return [e.get("value") for c in (body.get("template") or {}).get("containers", [])
            for e in c.get("env", []) if "value" in e]


def _gcp_allowed() -> list[Allowed]:
    return [Allowed(m, SERVICES, kind, "template.containers[].env[].value", _env_values)
            for m in ("POST", "PATCH") for kind in RUNTIME_SECRETS]


def _gcp_proven(proven: dict[str, int]) -> None:
    assert sum(proven.values()) >= 4, proven  # both secrets in at least two writes
    assert all(proven[f"{k} in POST {SERVICES} template.containers[].env[].value"] for k in RUNTIME_SECRETS)


GCP = Cloud(
    name="gcp", start=_gcp_start, prefix="secgcp",
    versions={"v1": {}, "v2": {"version": "2"}, "v3": {"version": "2", "env": {"VARIANT": "3"}}},
    every_command=(Run(("plan", "{v1}", "--to", "gcp")), Run(("deploy", "{v1}", "--to", "gcp"), json=True),
                   Run(("status", "{name}", "--to", "gcp"), json=True),
                   Run(("logs", "{name}", "--to", "gcp"), ok=False),  # not offered (exit 2): scanned all the same
                   Run(("predict", "{name}", "--to", "gcp", "--input", "{v1}/sample.json")),
                   Run(("swap", "{v2}", "--to", "gcp", "--strategy", "blue-green")),
                   Run(("rollback", "{name}", "--to", "gcp")), Run(("history", "{name}"), json=True)),
    rejected=(("POST", SERVICES), ("PATCH", SERVICES)), echo=_gcp_error,
    rejected_swap=Run(("swap", "{v3}", "--to", "gcp"), ok=False), api_project="v3",
    destroy=(Run(("destroy", "{name}", "--to", "gcp")), Run(("gc", "{v1}", "--to", "gcp"), json=True)),
    allowed=_gcp_allowed, proven=_gcp_proven, minted=_gcp_minted)


# -- azure ----------------------------------------------------------------------------------------------

GROUPS = "/providers/Microsoft.ContainerInstance/containerGroups/"
SECURE = "properties.containers[].environmentVariables[].secureValue"
REGISTRY_CREDENTIALS = "properties.imageRegistryCredentials[].password"


def _azure_start(request, tmp_path_factory):
    # a private registry with a user and password (what an ACR admin user is): pushed to with Basic
    # auth, named with the password in every group's imageRegistryCredentials, which ACI pulls with
    emulator, registry = request.getfixturevalue("azure_emulator"), request.getfixturevalue("auth_registry")
    tls = make_tls_files(tmp_path_factory.mktemp("proxy-tls"))
    proxy = Interception(emulator.base_url, tls=(str(tls.cert_pem), str(tls.key_pem)), upstream_ca=emulator.ca_pem,
                         flavour="azure")
    return proxy, {"azure": {"provider": "azure", "subscription_id": emulator.subscription_id,
                             "resource_group": emulator.resource_group, "location": emulator.location,
                             "base_url": proxy.url, "ca_bundle": str(tls.ca_pem), "token_env": AZURE_TOKEN_VAR,
                             "registry": f"{registry.host}/azure", "endpoint_host": "ip",
                             "acr_username_env": REGISTRY_USER_VAR, "acr_password_env": REGISTRY_PASSWORD_VAR},
                   "dev": {"provider": "local"}}


def _azure_error(body: bytes) -> bytes:
    """What a cloud that quotes the rejected request would answer."""
    return json.dumps({"error": {"code": "InvalidRequestContent",
                                 "message": f"The request content was invalid: {body.decode()[:4000]}"}}).encode()


def _secure_values(body) -> list[str]:
    return [e.get("secureValue") for c in body.get("properties", {}).get("containers", [])
            for e in c.get("properties", {}).get("environmentVariables", []) if "secureValue" in e]


def _registry_passwords(body) -> list[str]:
    return [c.get("password") for c in body.get("properties", {}).get("imageRegistryCredentials", [])
            if "password" in c]


def _azure_allowed() -> list[Allowed]:
    allowed = [Allowed("PUT", GROUPS, kind, SECURE, _secure_values) for kind in RUNTIME_SECRETS]
    allowed.append(Allowed("PUT", GROUPS, "registry password", REGISTRY_CREDENTIALS, _registry_passwords))
    return allowed + [Allowed(m, "/subscriptions/", "azure arm token", "Authorization")
                      for m in ("GET", "PUT", "PATCH", "DELETE", "POST")]


def _azure_proven(proven: dict[str, int]) -> None:
    assert proven[f"env: secret in PUT {GROUPS} {SECURE}"] >= 3
    assert proven[f"file: secret in PUT {GROUPS} {SECURE}"] >= 3
    assert proven[f"model api key in PUT {GROUPS} {SECURE}"] >= 3
    assert proven[f"registry password in PUT {GROUPS} {REGISTRY_CREDENTIALS}"] >= 3  # every group pulls with it
    assert proven["azure arm token in GET /subscriptions/ Authorization"] > 0


AZURE = Cloud(
    name="azure", start=_azure_start, prefix="secaz",
    # v3: same image, another config: a new revision (a container-group PUT) on every swap
    versions={"v1": {}, "v2": {"version": "2"}, "v3": {"version": "2", "env": {"VARIANT": "3"}}},
    every_command=(Run(("plan", "{v1}", "--to", "azure")), Run(("deploy", "{v1}", "--to", "azure"), json=True),
                   Run(("status", "{name}", "--to", "azure")), Run(("logs", "{name}", "--to", "azure")),
                   Run(("predict", "{name}", "--to", "azure", "--input", "{v1}/sample.json"), json=True),
                   Run(("swap", "{v2}", "--to", "azure", "--strategy", "blue-green")),
                   Run(("rollback", "{name}", "--to", "azure"), json=True),
                   Run(("migrate", "{name}", "--from", "azure", "--to", "dev")), Run(("history", "{name}"))),
    rejected=(("PUT", GROUPS),), echo=_azure_error,
    rejected_swap=Run(("swap", "{v3}", "--to", "azure"), json=True, ok=False), api_project="v3",
    # a refused token
    after_errors=(Run(("status", "{name}", "--to", "azure"), ok=False, env={AZURE_TOKEN_VAR: ""}),),
    destroy=(Run(("destroy", "{name}", "--to", "azure")), Run(("destroy", "{name}", "--to", "dev"), json=True),
             Run(("gc", "{v1}", "--to", "azure"))),
    allowed=_azure_allowed, proven=_azure_proven)


# -- azure-apps (Container Apps) ------------------------------------------------------------------------

APPS = "/providers/Microsoft.App/containerApps/"
APP_SECRETS = "properties.configuration.secrets[].value"


def _apps_start(request, tmp_path_factory):
    emulator, registry = request.getfixturevalue("azure_emulator"), request.getfixturevalue("registry")
    tls = make_tls_files(tmp_path_factory.mktemp("proxy-tls-apps"))
    proxy = Interception(emulator.base_url, tls=(str(tls.cert_pem), str(tls.key_pem)), upstream_ca=emulator.ca_pem,
                         flavour="azure")
    environment = f"secenv-{tmp_path_factory.getbasetemp().name[-6:].replace('_', '')}"
    return proxy, {"azure-apps": {"provider": "azure-apps", "subscription_id": emulator.subscription_id,
                                  "resource_group": emulator.resource_group, "location": emulator.location,
                                  "environment": environment, "base_url": proxy.url, "ca_bundle": str(tls.ca_pem),
                                  "token_env": AZURE_TOKEN_VAR, "registry": f"{registry.host}/azure-apps",
                                  "via_static_ip": True, "allow_insecure": True},
                   "dev": {"provider": "local"}}


def _app_secret_values(body) -> list[str]:
    secrets = ((body.get("properties") or {}).get("configuration") or {}).get("secrets") or []
    return [s.get("value") for s in secrets if "value" in s]


def _apps_allowed() -> list[Allowed]:
    allowed = [Allowed("PUT", APPS, kind, APP_SECRETS, _app_secret_values) for kind in RUNTIME_SECRETS]
    return allowed + [Allowed(m, "/subscriptions/", "azure arm token", "Authorization")
                      for m in ("GET", "PUT", "PATCH", "DELETE", "POST")]


def _apps_proven(proven: dict[str, int]) -> None:
    assert proven[f"env: secret in PUT {APPS} {APP_SECRETS}"] >= 2, proven
    assert proven[f"file: secret in PUT {APPS} {APP_SECRETS}"] >= 2, proven
    assert proven[f"model api key in PUT {APPS} {APP_SECRETS}"] >= 2, proven
    assert proven["azure arm token in GET /subscriptions/ Authorization"] > 0, proven


AZURE_APPS = Cloud(
    name="azure-apps", start=_apps_start, prefix="secaca",
    versions={"v1": {}, "v2": {"version": "2"}, "v3": {"version": "2", "env": {"VARIANT": "3"}}},
    every_command=(Run(("plan", "{v1}", "--to", "azure-apps")), Run(("deploy", "{v1}", "--to", "azure-apps"), json=True),
                   Run(("status", "{name}", "--to", "azure-apps")),
                   Run(("logs", "{name}", "--to", "azure-apps"), ok=False),  # not offered: scanned all the same
                   Run(("predict", "{name}", "--to", "azure-apps", "--input", "{v1}/sample.json"), json=True),
                   Run(("swap", "{v2}", "--to", "azure-apps", "--strategy", "canary", "--steps", "50,100")),
                   Run(("rollback", "{name}", "--to", "azure-apps"), json=True),
                   Run(("migrate", "{name}", "--from", "azure-apps", "--to", "dev")), Run(("history", "{name}"))),
    rejected=(("PUT", APPS),), echo=_azure_error,
    rejected_swap=Run(("swap", "{v3}", "--to", "azure-apps"), json=True, ok=False), api_project="v3",
    after_errors=(Run(("status", "{name}", "--to", "azure-apps"), ok=False, env={AZURE_TOKEN_VAR: ""}),),
    destroy=(Run(("destroy", "{name}", "--to", "azure-apps")), Run(("destroy", "{name}", "--to", "dev"), json=True),
             Run(("gc", "{v1}", "--to", "azure-apps"))),
    allowed=_apps_allowed, proven=_apps_proven)


# -- the tests ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=[AWS, GCP, AZURE, AZURE_APPS], ids=lambda c: c.name)
def cloud(request) -> Cloud:
    """The cloud under test (its three tests run in order, one cloud after the other)."""
    if request.param.name == "aws":  # the session's emulation exports its credentials: user_env copies them
        request.getfixturevalue("aws_emulation")
    return request.param


@pytest.fixture(scope="module")
def workdir(cloud, tmp_path_factory):
    """The cloud's projects and state file (each cloud its own, as each had its own module)."""
    return tmp_path_factory.mktemp(f"scan-{cloud.name}")


@pytest.fixture(scope="module")
def project(cloud, request, tmp_path_factory, workdir, seeds, docker_client):
    """The cloud's emulator behind a recording proxy, and the projects deployed there."""
    proxy, targets = cloud.start(request, tmp_path_factory)
    name = cloud.prefix + workdir.name[-4:].lower().replace("_", "")
    out = {"name": name, "proxy": proxy,
           **{key: make_project(workdir / key, seeds, name, targets, **options) for key, options in cloud.versions.items()}}
    try:
        yield out
    finally:
        try:  # best effort: the destroy test destroyed it already
            mp.destroy(name, cloud.name, spec=out["v1"], session=session({"MODELPORT_STATE": str(workdir / "state.db")}))
        except Exception:  # noqa: BLE001
            pass
        remove_containers(docker_client, name)
        proxy.stop()


def test_every_command(cloud, cli, project, seeds, docker_client):
    for run in cloud.every_command:
        run(cli, project)
    # every command passed the deployment's API key (and on gcp an ID token); a stranger does not pass
    with user_environment(cli.env):  # the user's credentials (key file, ARM token) reach the cloud
        s = session(cli.env)
        [row] = mp.status(project["name"], cloud.name, session=s)
        provider, target = s.target(mp.validate(project["v1"], s, sizes=False), cloud.name)
        # a stranger knows what DNS tells anyone (the Host an environment's ingress routes on), not the
        # key or a token
        known = {k: v for k, v in provider.endpoint_headers(target, project["name"]).items()
                 if k.lower() not in ("authorization", "x-api-key", "x-serverless-authorization")}
    anonymous = httpx.post(f"{row['endpoint']}/v2/models/iris/infer", json=SAMPLE, headers=known, timeout=30)
    assert anonymous.status_code in (401, 403), anonymous.status_code
    scan_containers(cli.leaks, docker_client, project["name"],
                    [seeds["env: secret"], seeds["file: secret"], seeds["model api key"]])
    cli.leaks.check()


def test_errors_and_python_api(cloud, cli, project, user_env):
    """A cloud error quoting the rejected request (the secrets in it), through the CLI and the API
    with DEBUG logging (SDKs log request parameters at DEBUG)."""
    proxy, rejected = project["proxy"], str(project[cloud.api_project])
    proxy.faults.extend((method, path, 400, cloud.echo) for method, path in cloud.rejected)
    try:
        cloud.rejected_swap(cli, project)
        label = f"{cloud.name} api"
        with user_environment(user_env), debug_logging(cli.leaks, label):
            s = session(user_env)
            plan = mp.plan(rejected, cloud.name, session=s)
            scan_objects(cli.leaks, label, plan, plan.to_dict(), plan.render(), s,
                         s.target(mp.validate(rejected, s), cloud.name))
            expect_error(cli.leaks, f"{label} swap", lambda: mp.swap(rejected, cloud.name, session=s))
    finally:
        proxy.faults.clear()
    for run in cloud.after_errors:
        run(cli, project)
    cli.leaks.check()


def test_destroy_then_scan_everything(cloud, cli, project, scan_home, workdir, request):
    for run in cloud.destroy:
        run(cli, project)
    if cloud.minted:  # tokens handed out while the commands ran: look again at what they printed
        minted = cloud.minted(request)
        assert minted, f"{cloud.name} handed out no token: the identity path was not exercised"
        for seed in minted:
            cli.leaks.scanner.add(seed)
        for place, text in cli.printed:
            cli.leaks.scan(place, text, "cli output (again, for minted tokens)")
    scan_state(cli.leaks, workdir / "state.db")
    scan_tree(cli.leaks, scan_home, "MODELPORT_HOME files")
    scan_tree(cli.leaks, workdir, "project and state folder", skip=tuple(workdir.glob("*/db-password.txt")))
    cloud.proven(scan_requests(cli.leaks, project["proxy"].requests, cloud.allowed(), cloud.name))
    cli.leaks.check()
