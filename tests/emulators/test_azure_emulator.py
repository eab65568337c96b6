"""The ARM emulator for Azure Container Instances, driven only by the official client.

Every test talks to ``moto_fixtures.azure`` through ``azure-mgmt-containerinstance`` 10.1.0
(api-version 2023-05-01) over HTTPS; container groups really run on the Docker engine
(DOCKER_HOST) and serve on the address the API reports.
"""
from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import docker
import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.mgmt.containerinstance import ContainerInstanceManagementClient
from azure.mgmt.containerinstance.models import (
    Container, ContainerGroup, ContainerPort, IpAddress, Port,
    ResourceRequests, ResourceRequirements)

from moto_fixtures.azure import ArmEmulator, StaticTokenCredential
from moto_fixtures.azure.echo_image import build_and_push, push_for_platform
from moto_fixtures.azure.fixtures import azure_emulator  # noqa: F401 - pytest fixture
from moto_fixtures.azure.registry import LocalRegistry
from moto_fixtures.azure.runtime import GROUP_LABEL, INSTANCE_LABEL

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(300)]

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "azure"
if not REFERENCE.is_dir():
    REFERENCE = Path("/work/shared/reference/azure")
PORT = 8080


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def docker_client():
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture(scope="module")
def registry():
    with LocalRegistry() as reg:
        yield reg


@pytest.fixture(scope="module")
def image(docker_client, registry):
    """The echo image in the open local registry, referenced by digest."""
    repository = f"{registry.host}/modelport-test/echo"
    ref = build_and_push(docker_client, repository)
    yield ref
    docker_client.images.remove(f"{repository}:v1", force=True)


@pytest.fixture()
def client(azure_emulator):
    return azure_emulator.client()


@pytest.fixture()
def groups(client, azure_emulator):
    """Names of groups a test creates; all are deleted afterwards."""
    created: list[tuple[ContainerInstanceManagementClient, str, str]] = []
    yield lambda name, rg=azure_emulator.resource_group, cl=client: created.append((cl, rg, name))
    for cl, rg, name in created:
        cl.container_groups.begin_delete(rg, name).result()


def unique(prefix: str = "cg") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def body(image: str, *, cpu=1.0, memory=1.5, label=None, location="eastus", **props) -> dict:
    """A valid PUT body: one container serving PORT behind a public IP."""
    container = {"name": "web", "properties": {
        "image": image, "ports": [{"port": PORT}],
        "resources": {"requests": {"cpu": cpu, "memoryInGB": memory}}}}
    ip = {"type": "Public", "ports": [{"port": PORT, "protocol": "TCP"}]}
    if label:
        ip["dnsNameLabel"] = label
    properties = {"osType": "Linux", "containers": [container], "ipAddress": ip}
    properties.update(props)
    return {"location": location, "properties": properties}


def raw(payload: dict) -> bytes:
    """The exact JSON to send (the SDK passes bytes bodies through untouched)."""
    return json.dumps(payload).encode()


def create(client, rg: str, name: str, payload: dict) -> ContainerGroup:
    return client.container_groups.begin_create_or_update(rg, name, raw(payload)).result()


def rejected(client, rg: str, name: str, payload: dict, status: int, code: str) -> str:
    with pytest.raises(HttpResponseError) as info:
        client.container_groups.begin_create_or_update(rg, name, raw(payload))
    assert (info.value.status_code, info.value.error.code) == (status, code), info.value.message
    return info.value.error.message


def accepted(client, groups, rg: str, name: str, payload: dict) -> ContainerGroup:
    groups(name, rg, client)
    result = create(client, rg, name, payload)
    assert result.provisioning_state == "Succeeded"
    return result


def container_state(client, rg, name, wanted, timeout=30):
    """Poll GET until the first container's state is ``wanted``; returns the group."""
    deadline = time.monotonic() + timeout
    while True:
        group = client.container_groups.get(rg, name)
        if group.containers[0].instance_view.current_state.state == wanted:
            return group
        assert time.monotonic() < deadline, group.containers[0].instance_view.as_dict()
        time.sleep(0.5)


def wait_provisioned(client, rg, name, timeout=60):
    """Poll GET until provisioning is over; returns the group."""
    deadline = time.monotonic() + timeout
    while True:
        group = client.container_groups.get(rg, name)
        if group.provisioning_state in ("Succeeded", "Failed"):
            return group
        assert time.monotonic() < deadline, group.provisioning_state
        time.sleep(0.5)


def http_get(url: str, timeout: float = 20) -> dict:
    """GET a JSON document, retrying while the server comes up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return json.loads(resp.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


# -- lifecycle -------------------------------------------------------------------------------
def test_create_as_model_polls_to_succeeded_then_get_and_list(client, azure_emulator, groups,
                                                               image):
    rg, name = azure_emulator.resource_group, unique()
    groups(name)
    model = ContainerGroup(
        location="eastus", os_type="Linux", tags={"modelport.revision": "r1"},
        containers=[Container(name="web", image=image, ports=[ContainerPort(port=PORT)],
                              resources=ResourceRequirements(
                                  requests=ResourceRequests(cpu=1, memory_in_gb=1.5)))],
        ip_address=IpAddress(type="Public", ports=[Port(port=PORT)], dns_name_label=name))
    result = client.container_groups.begin_create_or_update(rg, name, model).result()
    assert result.provisioning_state == "Succeeded"
    got = client.container_groups.get(rg, name)
    assert got.instance_view.state == "Running"
    assert got.tags == {"modelport.revision": "r1"}
    assert got.ip_address.fqdn == f"{name}.eastus.azurecontainer.io"
    assert got.ip_address.ip.startswith("127.0.0.")
    view = got.containers[0].instance_view
    assert view.current_state.state == "Running" and view.current_state.start_time
    assert [e.name for e in view.events] == ["Pulling", "Pulled", "Created", "Started"]
    assert name in [g.name for g in client.container_groups.list_by_resource_group(rg)]
    assert name in [g.name for g in client.container_groups.list()]


def test_create_is_a_long_running_operation(client, azure_emulator, groups, image):
    rg, name = azure_emulator.resource_group, unique()
    groups(name)
    poller = client.container_groups.begin_create_or_update(
        rg, name, raw(body(image)), polling=False, cls=lambda response, _, __: response)
    initial = poller.result().http_response
    assert initial.status_code == 201
    assert initial.headers["Retry-After"] == "1"
    assert json.loads(initial.text())["properties"]["provisioningState"] == "Pending"
    # one operation at a time: a PUT while the create runs is refused, not queued
    rejected(client, rg, name, body(image), 409, "ContainerGroupTransitioning")
    url = initial.headers["Azure-AsyncOperation"]
    statuses = []
    while not statuses or statuses[-1] == "InProgress":
        statuses.append(client._send_request(HttpRequest("GET", url)).json()["status"])
        time.sleep(0.2)
    assert statuses[0] == "InProgress" and statuses[-1] == "Succeeded"


def test_update_tags_with_patch(client, azure_emulator, groups, image):
    rg, name = azure_emulator.resource_group, unique()
    accepted(client, groups, rg, name, body(image))
    updated = client.container_groups.update(rg, name, {"tags": {"modelport.deployment": "d"}})
    assert updated.tags == {"modelport.deployment": "d"}
    assert client.container_groups.get(rg, name).tags == {"modelport.deployment": "d"}


def test_stop_start_restart(client, azure_emulator, groups, image):
    rg, name = azure_emulator.resource_group, unique()
    ip = accepted(client, groups, rg, name, body(image)).ip_address.ip
    assert http_get(f"http://{ip}:{PORT}/up")["path"] == "/up"
    client.container_groups.stop(rg, name)
    stopped = client.container_groups.get(rg, name)
    assert stopped.instance_view.state == "Stopped"
    assert stopped.containers[0].instance_view.current_state.state == "Terminated"
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://{ip}:{PORT}/", timeout=2)
    client.container_groups.begin_start(rg, name).result()
    assert client.container_groups.get(rg, name).instance_view.state == "Running"
    assert http_get(f"http://{ip}:{PORT}/again")["path"] == "/again"
    client.container_groups.begin_restart(rg, name).result()
    restarted = client.container_groups.get(rg, name)
    assert restarted.containers[0].instance_view.current_state.state == "Running"
    assert [e.count for e in restarted.containers[0].instance_view.events
            if e.name == "Started"] == [3]


def test_delete_removes_group_and_its_containers(client, azure_emulator, docker_client, image):
    rg, name = azure_emulator.resource_group, unique()
    created = create(client, rg, name, body(image))
    label = f"{GROUP_LABEL}={created.id}"
    assert docker_client.containers.list(filters={"label": label})
    client.container_groups.begin_delete(rg, name).result()
    with pytest.raises(ResourceNotFoundError) as info:
        client.container_groups.get(rg, name)
    assert info.value.error.code == "ResourceNotFound"
    assert not docker_client.containers.list(all=True, filters={"label": label})


def test_update_in_place_recreates_containers(client, azure_emulator, groups, image,
                                              docker_client):
    rg, name = azure_emulator.resource_group, unique()
    payload = body(image)
    ip = accepted(client, groups, rg, name, payload).ip_address.ip
    payload["properties"]["containers"][0]["properties"]["environmentVariables"] = [
        {"name": "VERSION", "value": "2"}]
    poller = client.container_groups.begin_create_or_update(rg, name, raw(payload))
    assert poller.result().provisioning_state == "Succeeded"
    serving = [c.name for c in docker_client.containers.list()
               if f"MODELPORT_HOST={ip}" in c.attrs["Config"]["Env"]]
    assert len(serving) == 1, serving  # the old container is gone, the new one serves
    assert http_get(f"http://{ip}:{PORT}/env/VERSION")["value"] == "2", serving


def test_update_of_cpu_needs_a_new_group(client, azure_emulator, groups, image):
    rg, name = azure_emulator.resource_group, unique()
    accepted(client, groups, rg, name, body(image))
    rejected(client, rg, name, body(image, cpu=2), 409, "PropertyChangeNotAllowed")


def test_container_logs(client, azure_emulator, groups, image):
    rg, name = azure_emulator.resource_group, unique()
    ip = accepted(client, groups, rg, name, body(image)).ip_address.ip
    http_get(f"http://{ip}:{PORT}/logged")
    deadline = time.monotonic() + 30
    while "request /logged" not in client.containers.list_logs(rg, name, "web", tail=10).content:
        assert time.monotonic() < deadline  # the engine copies output asynchronously
        time.sleep(0.5)
    with pytest.raises(ResourceNotFoundError):
        client.containers.list_logs(rg, name, "nope")


# -- secrets ---------------------------------------------------------------------------------
def test_secure_values_and_registry_password_are_never_returned(azure_emulator, groups,
                                                                docker_client):
    client = azure_emulator.client()
    user, password, secret = "aci", f"pw-{uuid.uuid4().hex}", f"sv-{uuid.uuid4().hex}"
    with LocalRegistry(user, password) as reg:
        auth = {"username": user, "password": password}
        ref = build_and_push(docker_client, f"{reg.host}/private/echo", auth)
        rg, name = azure_emulator.resource_group, unique()
        payload = body(ref, imageRegistryCredentials=[
            {"server": reg.host, "username": user, "password": password}])
        payload["properties"]["containers"][0]["properties"]["environmentVariables"] = [
            {"name": "API_KEY", "secureValue": secret}, {"name": "MODE", "value": "plain"}]
        wrong = json.loads(json.dumps(payload))
        wrong["properties"]["imageRegistryCredentials"][0]["password"] = "wrong"
        rejected(client, rg, unique(), wrong, 400, "InaccessibleImage")
        missing = json.loads(json.dumps(payload))  # no credentials for the image's registry server
        missing["properties"]["imageRegistryCredentials"] = [{"server": "other.example", "username": user,
                                                              "password": password}]
        rejected(client, rg, unique(), missing, 400, "InaccessibleImage")
        groups(name)
        initial = client.container_groups.begin_create_or_update(
            rg, name, raw(payload), polling=False, cls=lambda r, _, __: r).result()
        wait_provisioned(client, rg, name)
        got = client._send_request(HttpRequest(
            "GET", f"/subscriptions/{azure_emulator.subscription_id}/resourceGroups/{rg}/"
                   f"providers/Microsoft.ContainerInstance/containerGroups/{name}"
                   "?api-version=2023-05-01"))
        listed = client._send_request(HttpRequest(
            "GET", f"/subscriptions/{azure_emulator.subscription_id}/providers/"
                   "Microsoft.ContainerInstance/containerGroups?api-version=2023-05-01"))
        for text in (initial.http_response.text(), got.text(), listed.text()):
            assert secret not in text and password not in text
        env = got.json()["properties"]["containers"][0]["properties"]["environmentVariables"]
        assert env == [{"name": "API_KEY"}, {"name": "MODE", "value": "plain"}]
        assert got.json()["properties"]["imageRegistryCredentials"] == [
            {"server": reg.host, "username": user}]
        ip = got.json()["properties"]["ipAddress"]["ip"]
        assert http_get(f"http://{ip}:{PORT}/env/API_KEY")["value"] == secret
        docker_client.images.remove(f"{reg.host}/private/echo:v1", force=True)


# -- ARM protocol ----------------------------------------------------------------------------
def test_missing_bearer_token_is_401(azure_emulator):
    url = (f"{azure_emulator.base_url}/subscriptions/{azure_emulator.subscription_id}/providers/"
           "Microsoft.ContainerInstance/containerGroups?api-version=2023-05-01")
    tls = ssl.create_default_context(cafile=azure_emulator.ca_pem)
    response = httpx.get(url, verify=tls)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"
    authorized = httpx.get(url, verify=tls, headers={"Authorization": "Bearer x"})
    assert authorized.status_code == 200


def test_api_version_is_validated(azure_emulator):
    old = azure_emulator.client(api_version="2022-09-01")
    with pytest.raises(HttpResponseError) as info:
        list(old.container_groups.list())
    assert info.value.error.code == "NoRegisteredProviderFound"
    missing = azure_emulator.client()._send_request(HttpRequest(
        "GET", f"/subscriptions/{azure_emulator.subscription_id}/providers/"
               "Microsoft.ContainerInstance/containerGroups"))
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "MissingApiVersionParameter"
    assert list(azure_emulator.client().container_groups.list()) is not None


def test_unknown_resource_group_and_group(client, azure_emulator, image):
    with pytest.raises(ResourceNotFoundError) as info:
        client.container_groups.get("no-such-rg", "x")
    assert info.value.error.code == "ResourceGroupNotFound"
    rejected(client, "no-such-rg", "x", body(image), 404, "ResourceGroupNotFound")
    with pytest.raises(ResourceNotFoundError) as info:
        client.container_groups.get(azure_emulator.resource_group, "no-such-group")
    assert info.value.error.code == "ResourceNotFound"


def test_resource_group_can_be_created_over_http(client, azure_emulator, groups, image):
    rg = unique("rg")
    path = f"/subscriptions/{azure_emulator.subscription_id}/resourcegroups/{rg}"
    put = client._send_request(HttpRequest(
        "PUT", f"{path}?api-version=2021-04-01", json={"location": "westeurope"}))
    assert put.status_code == 201 and put.json()["location"] == "westeurope"
    accepted(client, groups, rg, unique(), body(image, location="westeurope"))


# -- validation: one test per rule, each rejecting and accepting a valid neighbour ---------
def _container(image: str, name: str = "web", port: int = PORT, cpu=0.5, memory=0.5) -> dict:
    return {"name": name, "properties": {
        "image": image, "ports": [{"port": port}],
        "resources": {"requests": {"cpu": cpu, "memoryInGB": memory}}}}


@pytest.mark.parametrize("bad", ["Upper", "-lead", "trail-", "dou--ble", "under_score",
                                 "a" * 64])
def test_rule_group_name_format(client, azure_emulator, groups, image, bad):
    rg = azure_emulator.resource_group
    rejected(client, rg, bad, body(image), 400, "InvalidContainerGroupName")
    accepted(client, groups, rg, "a" * 55 + uuid.uuid4().hex[:8], body(image))


@pytest.mark.parametrize("bad", ["Web", "web_1", "-web", "w" * 64])
def test_rule_container_name_format(client, azure_emulator, groups, image, bad):
    rg, payload = azure_emulator.resource_group, body(image)
    payload["properties"]["containers"][0]["name"] = bad
    rejected(client, rg, unique(), payload, 400, "InvalidContainerName")
    payload["properties"]["containers"][0]["name"] = "web-1"
    accepted(client, groups, rg, unique(), payload)


def test_rule_container_names_unique(client, azure_emulator, groups, image):
    rg, payload = azure_emulator.resource_group, body(image)
    payload["properties"]["containers"].append(_container(image, port=8081))
    rejected(client, rg, unique(), payload, 400, "DuplicateContainerName")
    payload["properties"]["containers"][1]["name"] = "sidecar"
    payload["properties"]["containers"][1]["properties"]["environmentVariables"] = [
        {"name": "ECHO_PORT", "value": "8081"}]
    accepted(client, groups, rg, unique(), payload)


def test_rule_containers_required(client, azure_emulator, groups, image):
    rg, payload = azure_emulator.resource_group, body(image)
    del payload["properties"]["containers"]
    rejected(client, rg, unique(), payload, 400, "InvalidRequestContent")
    payload["properties"]["containers"] = []
    rejected(client, rg, unique(), payload, 400, "InvalidRequestContent")
    accepted(client, groups, rg, unique(), body(image))


def test_rule_image_required(client, azure_emulator, groups, image):
    rg, payload = azure_emulator.resource_group, body(image)
    del payload["properties"]["containers"][0]["properties"]["image"]
    message = rejected(client, rg, unique(), payload, 400, "InvalidRequestContent")
    assert "'image'" in message
    accepted(client, groups, rg, unique(), body(image))


def test_rule_resource_requests_required(client, azure_emulator, groups, image):
    rg, payload = azure_emulator.resource_group, body(image)
    del payload["properties"]["containers"][0]["properties"]["resources"]["requests"]["cpu"]
    rejected(client, rg, unique(), payload, 400, "ResourceRequestsNotSpecified")
    accepted(client, groups, rg, unique(), body(image, cpu=0.25))


@pytest.mark.parametrize("os_type", [None, "Solaris"])
def test_rule_os_type_required_and_enum(client, azure_emulator, groups, image, os_type):
    rg, payload = azure_emulator.resource_group, body(image)
    payload["properties"]["osType"] = os_type
    rejected(client, rg, unique(), payload, 400, "InvalidOsType")
    accepted(client, groups, rg, unique(), body(image))


def test_rule_location_required(client, azure_emulator, groups, image):
    rg, payload = azure_emulator.resource_group, body(image)
    del payload["location"]
    rejected(client, rg, unique(), payload, 400, "LocationRequired")
    accepted(client, groups, rg, unique(), body(image, location="West Europe"))


def test_rule_restart_policy_enum(client, azure_emulator, groups, image):
    rg = azure_emulator.resource_group
    rejected(client, rg, unique(), body(image, restartPolicy="Sometimes"), 400,
             "InvalidRestartPolicy")
    accepted(client, groups, rg, unique(), body(image, restartPolicy="OnFailure"))


def test_rule_group_cpu_maximum(client, azure_emulator, groups, image):
    rg = azure_emulator.resource_group
    maximum = azure_emulator.emulator.service.limits.linux["max_cpu"]
    payload = body(image, cpu=maximum - 1)
    payload["properties"]["containers"].append(_container(image, "second", 8081, cpu=1.5))
    message = rejected(client, rg, unique(), payload, 409, "ServiceUnavailable")
    assert f"'{maximum}' CPU" in message
    payload["properties"]["containers"][1]["properties"]["resources"]["requests"]["cpu"] = 1
    accepted(client, groups, rg, unique(), payload)


def test_rule_group_memory_maximum(client, azure_emulator, groups, image):
    rg = azure_emulator.resource_group
    maximum = azure_emulator.emulator.service.limits.linux["max_memory_gb"]
    rejected(client, rg, unique(), body(image, memory=maximum + 0.5), 409, "ServiceUnavailable")
    accepted(client, groups, rg, unique(), body(image, memory=maximum))


def test_rule_limits_within_group_request(client, azure_emulator, groups, image):
    rg, payload = azure_emulator.resource_group, body(image, cpu=1)
    resources = payload["properties"]["containers"][0]["properties"]["resources"]
    resources["limits"] = {"cpu": 2}
    rejected(client, rg, unique(), payload, 400,
             "ContainerLimitGreaterThanContainerGroupTotalRequest")
    resources["limits"] = {"cpu": 1}
    accepted(client, groups, rg, unique(), payload)


def _gpu_body(image, sku="V100", count=1, cpu=1.0):
    payload = body(image, cpu=cpu)
    requests = payload["properties"]["containers"][0]["properties"]["resources"]["requests"]
    requests["gpu"] = {"sku": sku, "count": count}
    return payload


def test_rule_gpu_sku_enum_and_availability(client, azure_emulator, image):
    rg = azure_emulator.resource_group
    rejected(client, rg, unique(), _gpu_body(image, sku="A100"), 400, "InvalidGpuSku")
    message = rejected(client, rg, unique(), _gpu_body(image, sku="K80"), 409,
                       "ServiceUnavailable")
    assert "'1' 'K80' GPU" in message
    rejected(client, rg, unique(), _gpu_body(image, count=3), 409, "ServiceUnavailable")
    # Offered and well-sized, but a new subscription has no GPU quota (limits.toml: 0).
    rejected(client, rg, unique(), _gpu_body(image), 409, "ContainerGroupQuotaReached")


def test_rule_gpu_sizes_with_quota(image):
    with ArmEmulator(quotas={"v100_gpu_cores_per_region_per_subscription": 100}) as arm:
        arm.add_resource_group("sub", "rg")
        client = ContainerInstanceManagementClient(
            StaticTokenCredential(), "sub", base_url=arm.base_url, connection_verify=arm.ca_pem)
        size = arm.service.limits.gpu_size("V100", 1)
        rejected(client, "rg", unique(), _gpu_body(image, cpu=size["max_cpu"] + 1), 409,
                 "ServiceUnavailable")
        result = create(client, "rg", "gpu", _gpu_body(image, cpu=size["max_cpu"]))
        assert result.provisioning_state == "Succeeded"
        assert result.containers[0].resources.requests.gpu.sku == "V100"


@pytest.mark.parametrize("bad", ["Bad_Label", "abc", "1abcde", "label-"])
def test_rule_dns_label_format(client, azure_emulator, groups, image, bad):
    rg = azure_emulator.resource_group
    rejected(client, rg, unique(), body(image, label=bad), 400, "InvalidDnsNameLabel")
    accepted(client, groups, rg, unique(), body(image, label=unique("ok")))


def test_rule_dns_label_unique_per_location(client, azure_emulator, groups, image):
    rg, label = azure_emulator.resource_group, unique("dns")
    first = unique()
    accepted(client, groups, rg, first, body(image, label=label))
    message = rejected(client, rg, unique(), body(image, label=label), 400,
                       "DnsNameLabelAlreadyTaken")
    assert label in message
    elsewhere = accepted(client, groups, rg, unique(), body(image, label=label,
                                                            location="westus"))
    assert elsewhere.ip_address.fqdn == f"{label}.westus.azurecontainer.io"
    # The owner can re-apply its own label.
    assert create(client, rg, first, body(image, label=label)).provisioning_state == "Succeeded"


def _other_subscription(azure_emulator, tenant: str | None = None):
    """A client for a fresh subscription (its own tenant unless ``tenant``) with a group 'rg'."""
    sub = str(uuid.uuid4())
    azure_emulator.emulator.add_resource_group(sub, "rg", azure_emulator.location)
    if tenant:
        azure_emulator.emulator.set_tenant(sub, tenant)
    return ContainerInstanceManagementClient(StaticTokenCredential(), sub, base_url=azure_emulator.base_url,
                                             connection_verify=azure_emulator.ca_pem)


def _scoped(image: str, label: str, scope: str, **kw) -> dict:
    payload = body(image, label=label, **kw)
    payload["properties"]["ipAddress"]["autoGeneratedDomainNameLabelScope"] = scope
    return payload


def _hashed(fqdn: str, label: str, location: str = "eastus") -> str:
    """The hash part of ``<label>.<hash>.<location>.azurecontainer.io`` (asserting that form)."""
    head, _, tail = fqdn.partition(".")
    digest, _, rest = tail.partition(".")
    assert (head, rest) == (label, f"{location}.azurecontainer.io") and len(digest) == 16, fqdn
    return digest


def test_rule_dns_label_is_global_unless_scoped(client, azure_emulator, groups, image):
    """Labels are one namespace per region across all customers: a label another customer holds
    is refused; with a *Reuse scope the fqdn carries a hash of the scope and does not collide."""
    rg, label = azure_emulator.resource_group, unique("taken")
    held = azure_emulator.emulator.hold_dns_name("East US", label)
    assert held == f"{label}.eastus.azurecontainer.io"
    assert label in rejected(client, rg, unique(), body(image, label=label), 400, "DnsNameLabelAlreadyTaken")
    assert label in rejected(client, rg, unique(), _scoped(image, label, "unsecure"), 400,
                             "DnsNameLabelAlreadyTaken")  # enum values compare case-insensitively
    first = accepted(client, groups, rg, unique(), _scoped(image, label, "ResourceGroupReuse"))
    assert first.ip_address.auto_generated_domain_name_label_scope == "ResourceGroupReuse"
    mine = _hashed(first.ip_address.fqdn, label)
    # the same label in the same scope is the same fqdn: taken
    rejected(client, rg, unique(), _scoped(image, label, "ResourceGroupReuse"), 400, "DnsNameLabelAlreadyTaken")
    rejected(client, rg, unique(), _scoped(image, label, "Global"), 400, "InvalidDnsNameLabelScope")
    # another customer (another tenant) asking for the same label gets another fqdn
    other = _other_subscription(azure_emulator)
    theirs = accepted(other, groups, "rg", unique(), _scoped(image, label, "ResourceGroupReuse"))
    assert _hashed(theirs.ip_address.fqdn, label) != mine


def test_rule_dns_label_scopes_reuse_and_collide_within_their_scope(client, azure_emulator, groups, image):
    rg, label = azure_emulator.resource_group, unique("scope")
    tenant = str(uuid.uuid4())
    first, second = _other_subscription(azure_emulator, tenant), _other_subscription(azure_emulator, tenant)
    # TenantReuse: one fqdn for the label in the whole tenant
    name = unique()
    tenant_wide = accepted(first, groups, "rg", name, _scoped(image, label, "TenantReuse")).ip_address.fqdn
    rejected(second, "rg", unique(), _scoped(image, label, "TenantReuse"), 400, "DnsNameLabelAlreadyTaken")
    # SubscriptionReuse / ResourceGroupReuse: the hash adds the subscription / the resource group
    by_sub = accepted(second, groups, "rg", unique(), _scoped(image, label, "SubscriptionReuse")).ip_address.fqdn
    assert len({_hashed(tenant_wide, label), _hashed(by_sub, label)}) == 2
    # recreated in the same scope, a group gets its fqdn back (the endpoint stays the same)
    first.container_groups.begin_delete("rg", name).result()
    again = accepted(first, groups, "rg", name, _scoped(image, label, "TenantReuse"))
    assert again.ip_address.fqdn == tenant_wide
    # Noreuse: a fresh hash for each new group, kept by updates of that group
    name = unique()
    payload = _scoped(image, unique("fresh"), "Noreuse")
    random_one = accepted(client, groups, rg, name, payload).ip_address.fqdn
    payload["properties"]["containers"][0]["properties"]["environmentVariables"] = [{"name": "V", "value": "2"}]
    assert create(client, rg, name, payload).ip_address.fqdn == random_one
    client.container_groups.begin_delete(rg, name).result()
    assert accepted(client, groups, rg, name, payload).ip_address.fqdn != random_one


def test_rule_registry_identity_must_be_attached(client, azure_emulator, groups, image, registry):
    """imageRegistryCredentials[].identity names a user-assigned identity attached to the group."""
    rg, sub = azure_emulator.resource_group, azure_emulator.subscription_id
    identity = (f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/"
                f"userAssignedIdentities/{unique('pull')}")
    payload = body(image, imageRegistryCredentials=[{"server": registry.host, "identity": identity}])
    message = rejected(client, rg, unique(), payload, 400, "InvalidImageRegistryIdentity")
    assert "not found in container group identity list" in message
    payload["identity"] = {"type": "SystemAssigned"}  # a system identity cannot pull at creation
    rejected(client, rg, unique(), payload, 400, "InvalidImageRegistryIdentity")
    payload["identity"] = {"type": "UserAssigned", "userAssignedIdentities": {identity.replace(
        "/resourceGroups/", "/resourcegroups/"): {}}}  # resource ids compare case-insensitively
    payload["properties"]["imageRegistryCredentials"][0]["identity"] = identity
    payload["identity"]["type"] = "Bogus"
    rejected(client, rg, unique(), payload, 400, "InvalidRequestContent")
    payload["identity"]["type"] = "SystemAssigned, UserAssigned"
    group = accepted(client, groups, rg, unique(), payload)
    [(key, attached)] = group.identity.user_assigned_identities.items()
    assert key.lower() == identity.lower() and attached.principal_id and attached.client_id
    assert group.image_registry_credentials[0].identity == identity


def test_image_that_is_not_amd64_fails_the_group(client, azure_emulator, groups, registry, docker_client):
    """ACI runs linux/amd64 images only; the architecture is read from the image's config."""
    rg, name = azure_emulator.resource_group, unique()
    ref = push_for_platform(registry.host, f"modelport-test/arm-{uuid.uuid4().hex[:8]}", "arm64")
    groups(name)
    poller = client.container_groups.begin_create_or_update(rg, name, raw(body(ref)))
    with pytest.raises(HttpResponseError) as failed:
        poller.result()
    assert "linux/arm64" in str(failed.value)
    group = client.container_groups.get(rg, name)
    assert group.provisioning_state == "Failed"
    warning = [e.message for e in _events(group) if e.name == "Failed"]
    assert warning and "linux/arm64" in warning[0] and "linux/amd64" in warning[0], _events(group)
    assert not docker_client.containers.list(all=True, filters={"label": f"{GROUP_LABEL}={group.id}"})


@pytest.mark.parametrize("bad", [0, 65536])
def test_rule_port_range(client, azure_emulator, groups, image, bad):
    rg, payload = azure_emulator.resource_group, body(image)
    payload["properties"]["containers"][0]["properties"]["ports"] = [{"port": bad}]
    rejected(client, rg, unique(), payload, 400, "InvalidContainerPort")
    payload["properties"]["containers"][0]["properties"]["ports"] = [{"port": PORT},
                                                                     {"port": 65535}]
    accepted(client, groups, rg, unique(), payload)


def test_rule_ports_per_ip_maximum(client, azure_emulator, groups, image):
    rg = azure_emulator.resource_group
    maximum = azure_emulator.emulator.service.limits.linux["max_ports_per_ip"]
    ports = [PORT + i for i in range(maximum + 1)]
    payload = body(image)
    payload["properties"]["containers"][0]["properties"]["ports"] = [{"port": p} for p in ports]
    payload["properties"]["ipAddress"]["ports"] = [{"port": p} for p in ports]
    rejected(client, rg, unique(), payload, 400, "IpAddressPortsExceedLimit")
    payload["properties"]["ipAddress"]["ports"] = [{"port": p} for p in ports[:maximum]]
    accepted(client, groups, rg, unique(), payload)


def test_rule_ip_ports_must_be_exposed_by_a_container(client, azure_emulator, groups, image):
    rg, payload = azure_emulator.resource_group, body(image)
    payload["properties"]["ipAddress"]["ports"].append({"port": 9090})
    rejected(client, rg, unique(), payload, 400, "IpAddressPortNotExposed")
    payload["properties"]["containers"][0]["properties"]["ports"].append({"port": 9090})
    accepted(client, groups, rg, unique(), payload)


def test_rule_ip_ports_not_empty(client, azure_emulator, groups, image):
    rg, payload = azure_emulator.resource_group, body(image)
    payload["properties"]["ipAddress"]["ports"] = []
    rejected(client, rg, unique(), payload, 400, "MissingIpAddressPorts")
    del payload["properties"]["ipAddress"]
    assert accepted(client, groups, rg, unique(), payload).ip_address is None


def test_rule_ip_address_type(client, azure_emulator, groups, image):
    rg, payload = azure_emulator.resource_group, body(image)
    payload["properties"]["ipAddress"]["type"] = "Internet"
    rejected(client, rg, unique(), payload, 400, "InvalidIpAddressType")
    del payload["properties"]["ipAddress"]["type"]
    rejected(client, rg, unique(), payload, 400, "InvalidRequestContent")
    payload["properties"]["ipAddress"]["type"] = "Private"
    rejected(client, rg, unique(), payload, 400, "PrivateIPAddressNotSupported")
    payload["properties"]["subnetIds"] = [{"id": "/subscriptions/s/resourceGroups/r/providers/"
                                                 "Microsoft.Network/virtualNetworks/v/subnets/a"}]
    accepted(client, groups, rg, unique(), payload)


def test_rule_env_var_name_required(client, azure_emulator, groups, image):
    rg, payload = azure_emulator.resource_group, body(image)
    env = payload["properties"]["containers"][0]["properties"]
    env["environmentVariables"] = [{"value": "x"}]
    rejected(client, rg, unique(), payload, 400, "InvalidRequestContent")
    env["environmentVariables"] = [{"name": "X", "value": "x"}]
    accepted(client, groups, rg, unique(), payload)


def test_rule_containers_per_group_maximum(client, azure_emulator, groups, image):
    rg = azure_emulator.resource_group
    maximum = azure_emulator.emulator.service.limits.linux["max_containers_per_group"]
    payload = body(image)
    payload["properties"]["containers"] += [
        _container(image, f"c{i}", 9000 + i, cpu=0.01, memory=0.01) for i in range(maximum)]
    rejected(client, rg, unique(), payload, 400, "ContainerGroupContainersLimitExceeded")
    payload["properties"]["containers"] = payload["properties"]["containers"][:2]
    payload["properties"]["containers"][1]["properties"]["command"] = ["sleep", "600"]
    accepted(client, groups, rg, unique(), payload)


def test_rule_image_must_be_accessible(client, azure_emulator, groups, image, registry):
    rg = azure_emulator.resource_group
    missing = f"{registry.host}/modelport-test/absent@sha256:{'0' * 64}"
    message = rejected(client, rg, unique(), body(missing), 400, "InaccessibleImage")
    assert missing in message
    accepted(client, groups, rg, unique(), body(image))


# -- the official examples, replayed -----------------------------------------------------------
# Each example request is sent as written, except that container images are replaced by the
# echo image: the examples name public images ('nginx', 'alpine:latest', 'confiimage') and no
# public registry is reachable here (the emulator, like ACI, refuses images it cannot pull).
# Examples from other api-versions (Update, Restart: 2022-09-01; GetPriority: 2025-09-01) are
# sent with 2023-05-01, the only version the emulator serves.
EXAMPLES = REFERENCE / "examples"
ACCEPTED_PUTS = ["ContainerGroupCreateConfidential", "ContainerGroupEncryptionProperties",
                 "ContainerGroupExtensions", "ContainerGroupsCreatePriority"]
# ContainerGroupsCreateOrUpdate asks for a K80 GPU (retired 2023-08-31; limits.toml offers only
# V100) in a virtual network (GPU groups cannot join one): ACI answers 409 ServiceUnavailable.
REJECTED_PUTS = {"ContainerGroupsCreateOrUpdate": (409, "ServiceUnavailable")}
# Paths of an example response the emulator does not echo, and why.
SHAPE_EXCEPTIONS = {
    # The Confidential example request spells 'priviliged'; its response 'privileged'. The
    # emulator echoes what was sent.
    ".properties.containers[].properties.securityContext.privileged",
}


def _example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def _paths(value, prefix="") -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            out |= {f"{prefix}.{key}"} | _paths(item, f"{prefix}.{key}")
    elif isinstance(value, list):
        for item in value:
            out |= _paths(item, f"{prefix}[]")
    return out


def _missing(expected: dict, got: dict, only=lambda path: True, ignore=()) -> list[str]:
    return sorted(p for p in _paths(expected) - _paths(got)
                  if only(p) and p not in SHAPE_EXCEPTIONS
                  and not any(p.startswith(i) for i in ignore))


def _runtime_path(path: str) -> bool:
    # GET/List examples describe other groups; what must match is the runtime view of one.
    if path.count(".") == 1:
        return path not in (".zones", ".tags", ".identity")
    keep = (".properties.provisioningState", ".properties.instanceView")
    # Exit details exist only for terminated containers; group-level events only after
    # incidents (the recordings show them empty for a healthy group).
    state_only = ("exitCode", "finishTime", "previousState", ".properties.instanceView.events[]")
    return (path.startswith(keep) or ".instanceView" in path) and not any(
        s in path for s in state_only)


def _request(example: dict, image: str) -> dict:
    """The example's container group body, with the echo image and the example's zones."""
    params = example["parameters"]
    request = json.loads(json.dumps(params["containerGroup"]))
    if params.get("zones"):
        # The examples list zones next to the body; the SDK sends them inside it.
        request["zones"] = params["zones"]
    for kind in ("containers", "initContainers"):
        for container in request["properties"].get(kind) or []:
            container["properties"]["image"] = image
    return request


@pytest.fixture()
def example_client(azure_emulator):
    """A client for the examples' subscription 'subid' with their resource groups."""
    client = ContainerInstanceManagementClient(
        StaticTokenCredential(), "subid", base_url=azure_emulator.base_url,
        connection_verify=azure_emulator.ca_pem)
    for rg in ("demo", "demoResource"):
        client._send_request(HttpRequest(
            "PUT", f"/subscriptions/subid/resourcegroups/{rg}?api-version=2021-04-01",
            json={"location": "westus"}))
    return client


def _put_example(client, groups, example: dict, request: dict, ignore=()) -> dict:
    params = example["parameters"]
    rg, name = params["resourceGroupName"], params["containerGroupName"]
    groups(name, rg, client)
    initial = client.container_groups.begin_create_or_update(
        rg, name, raw(request), polling=False, cls=lambda r, _, __: r).result().http_response
    status = str(initial.status_code)
    assert status in example["responses"]
    got = json.loads(initial.text())
    assert _missing(example["responses"][status]["body"], got, ignore=ignore) == []
    assert wait_provisioned(client, rg, name).provisioning_state == "Succeeded"
    return got


@pytest.mark.parametrize("name", ACCEPTED_PUTS)
def test_example_put_is_accepted_with_its_response_shape(example_client, groups, image, name):
    example = _example(name)
    _put_example(example_client, groups, example, _request(example, image))


@pytest.mark.parametrize("name", sorted(REJECTED_PUTS))
def test_example_put_with_retired_gpu_is_refused(example_client, groups, image, name):
    example, (status, code) = _example(name), REJECTED_PUTS[name]
    params = example["parameters"]
    request = _request(example, image)
    rejected(example_client, params["resourceGroupName"], params["containerGroupName"],
             request, status, code)
    # Without the GPU the same request is valid, and answers with the example's shape.
    del request["properties"]["containers"][0]["properties"]["resources"]["requests"]["gpu"]
    _put_example(example_client, groups, example, request,
                 ignore=(".properties.containers[].properties.resources.requests.gpu",))


def test_example_operations_replay(example_client, groups, image):
    client, rg, name = example_client, "demo", "demo1"
    request = _request(_example("ContainerGroupsCreateOrUpdate"), image)
    del request["properties"]["containers"][0]["properties"]["resources"]["requests"]["gpu"]
    _put_example(client, groups, _example("ContainerGroupsCreateOrUpdate"), request,
                 ignore=(".properties.containers[].properties.resources.requests.gpu",))
    for example in ("ContainerGroupsGet_Succeeded", "ContainerGroupsGet_Failed",
                    "ContainerGroupsGetPriority"):
        got = client.container_groups.get(rg, name).as_dict(keep_readonly=True)
        raw_got = client._send_request(HttpRequest(
            "GET", f"/subscriptions/subid/resourceGroups/{rg}/providers/"
                   f"Microsoft.ContainerInstance/containerGroups/{name}?api-version=2023-05-01"))
        assert got["name"] == name
        expected = _example(example)["responses"]["200"]["body"]
        assert _missing(expected, raw_got.json(), _runtime_path) == [], example
    for example, pages in (("ContainerGroupsList", client.container_groups.list()),
                           ("ContainerGroupsListByResourceGroup",
                            client.container_groups.list_by_resource_group(rg))):
        listed = [g for g in pages if g.name == name]
        assert len(listed) == 1, example
    logs = _example("ContainerListLogs")["parameters"]
    with pytest.raises(ResourceNotFoundError):   # the example's 'container1' is not in demo1
        client.containers.list_logs(rg, name, logs["containerName"], tail=logs["tail"])
    assert isinstance(client.containers.list_logs(rg, name, "demo1", tail=logs["tail"]).content,
                      str)
    status = lambda r, _, __: r.http_response.status_code  # noqa: E731
    assert client.container_groups.stop(rg, name, cls=status) == 204
    start = client.container_groups.begin_start(rg, name, polling=False,
                                                cls=lambda r, _, __: r).result()
    assert start.http_response.status_code == 202
    assert "Azure-AsyncOperation" in start.http_response.headers
    assert wait_provisioned(client, rg, name).instance_view.state == "Running"
    restart = client.container_groups.begin_restart(rg, name, polling=False, cls=status)
    assert restart.result() == 204
    wait_provisioned(client, rg, name)
    delete = client.container_groups.begin_delete(rg, name, polling=False, cls=status)
    assert delete.result() in (200, 202, 204)


def test_example_update_sets_tags(example_client, groups, image):
    example = _example("ContainerGroupsUpdate")
    params = example["parameters"]
    request = _request(_example("ContainerGroupsCreatePriority"), image)
    rg, name = params["resourceGroupName"], params["containerGroupName"]
    groups(name, rg, example_client)
    create(example_client, rg, name, request)
    updated = example_client.container_groups.update(rg, name, params["Resource"])
    assert updated.tags == example["responses"]["200"]["body"]["tags"]


# -- data plane ------------------------------------------------------------------------------
def _events(group, kind=None) -> list:
    return [e for e in group.containers[0].instance_view.events
            if kind is None or e.name == kind]


def test_groups_serve_the_same_port_on_distinct_addresses(client, azure_emulator, groups, image):
    rg = azure_emulator.resource_group
    first = accepted(client, groups, rg, unique(), body(image)).ip_address.ip
    second = accepted(client, groups, rg, unique(), body(image)).ip_address.ip
    assert first != second
    for ip in (first, second):
        assert http_get(f"http://{ip}:{PORT}/who")["path"] == "/who"


def test_exited_container_is_terminated_with_its_exit_code(client, azure_emulator, groups, image):
    rg, name, payload = azure_emulator.resource_group, unique(), body(image)
    del payload["properties"]["ipAddress"]
    payload["properties"]["restartPolicy"] = "Never"
    payload["properties"]["containers"][0]["properties"]["command"] = [
        "python3", "-c", "import sys; print('bye', flush=True); sys.exit(3)"]
    accepted(client, groups, rg, name, payload)
    group = container_state(client, rg, name, "Terminated")
    state = group.containers[0].instance_view.current_state
    assert (state.exit_code, state.detail_status) == (3, "Error")
    assert state.finish_time and state.start_time
    assert group.instance_view.state == "Failed"
    deadline = time.monotonic() + 30
    while "bye" not in client.containers.list_logs(rg, name, "web").content:
        assert time.monotonic() < deadline
        time.sleep(0.5)


def test_restart_policy_always_restarts_an_exited_container(client, azure_emulator, groups,
                                                            image):
    rg, name, payload = azure_emulator.resource_group, unique(), body(image)
    del payload["properties"]["ipAddress"]
    payload["properties"]["containers"][0]["properties"]["command"] = [
        "python3", "-c", "import sys, time; time.sleep(0.5); sys.exit(1)"]
    accepted(client, groups, rg, name, payload)
    deadline = time.monotonic() + 60
    while True:
        view = client.container_groups.get(rg, name).containers[0].instance_view
        if view.restart_count >= 1 and view.previous_state is not None:
            break
        assert time.monotonic() < deadline, view.as_dict()
        time.sleep(0.5)
    assert (view.previous_state.state, view.previous_state.exit_code) == ("Terminated", 1)


def test_probes_are_honoured(client, azure_emulator, groups, image):
    rg, healthy, unready = azure_emulator.resource_group, unique(), unique()
    probe = {"httpGet": {"path": "/ready", "port": PORT}, "periodSeconds": 1}
    good = body(image)
    good["properties"]["containers"][0]["properties"]["readinessProbe"] = {
        **probe, "initialDelaySeconds": 2}  # past the echo server's start-up
    bad = body(image)
    bad["properties"]["containers"][0]["properties"]["readinessProbe"] = {
        **probe, "httpGet": {"path": "/ready", "port": 9999}}
    bad["properties"]["containers"][0]["properties"]["livenessProbe"] = {
        **probe, "httpGet": {"path": "/live", "port": 9999}, "failureThreshold": 2}
    accepted(client, groups, rg, healthy, good)
    accepted(client, groups, rg, unready, bad)
    deadline = time.monotonic() + 60
    while not _events(client.container_groups.get(rg, unready), "Killing"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    messages = [e.message for e in _events(client.container_groups.get(rg, unready),
                                           "Unhealthy")]
    assert any(m.startswith("Readiness probe failed") for m in messages)
    assert any(m.startswith("Liveness probe failed") for m in messages)
    # The healthy group's probe did run (the echo server logs it) and never failed.
    while "request /ready" not in client.containers.list_logs(rg, healthy, "web").content:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert _events(client.container_groups.get(rg, healthy), "Unhealthy") == []


def test_emulator_stop_removes_its_containers(image, docker_client):
    with ArmEmulator() as arm:
        arm.add_resource_group("sub", "rg")
        client = ContainerInstanceManagementClient(
            StaticTokenCredential(), "sub", base_url=arm.base_url, connection_verify=arm.ca_pem)
        create(client, "rg", "left-running", body(image))
        label = f"{INSTANCE_LABEL}={arm.instance_id}"
        assert docker_client.containers.list(filters={"label": label})
    assert docker_client.containers.list(all=True, filters={"label": label}) == []


def test_container_that_cannot_start_fails_the_operation(client, azure_emulator, groups, image,
                                                         docker_client):
    rg, name, payload = azure_emulator.resource_group, unique(), body(image)
    payload["properties"]["containers"][0]["properties"]["command"] = ["/no/such/binary"]
    groups(name)
    poller = client.container_groups.begin_create_or_update(rg, name, raw(payload))
    with pytest.raises(HttpResponseError):
        poller.result()
    group = client.container_groups.get(rg, name)
    assert group.provisioning_state == "Failed"
    assert [e.name for e in group.instance_view.events] == ["Failed"]
    label = f"{GROUP_LABEL}={group.id}"
    assert not docker_client.containers.list(all=True, filters={"label": label})


def test_standalone_server_prints_its_address_and_ca():
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto_fixtures.azure", "--port", "0", "--resource-group", "demo"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    try:
        lines = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(2))
        client = ContainerInstanceManagementClient(
            StaticTokenCredential(), "00000000-0000-0000-0000-000000000000",
            base_url=lines["base_url"], connection_verify=lines["ca_pem"])
        assert list(client.container_groups.list_by_resource_group("demo")) == []
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_delete_while_provisioning_leaves_nothing(client, azure_emulator, image, docker_client):
    rg, name = azure_emulator.resource_group, unique()
    initial = client.container_groups.begin_create_or_update(
        rg, name, raw(body(image)), polling=False, cls=lambda r, _, __: r).result()
    group_id = json.loads(initial.http_response.text())["id"]
    client.container_groups.begin_delete(rg, name).result()
    with pytest.raises(ResourceNotFoundError):
        client.container_groups.get(rg, name)
    label, deadline = f"{GROUP_LABEL}={group_id}", time.monotonic() + 30
    # A superseded provisioning step removes what it started as soon as it notices.
    while docker_client.containers.list(all=True, filters={"label": label}):
        assert time.monotonic() < deadline
        time.sleep(0.5)
