"""The ARM emulator's Microsoft.App (Container Apps, api-version 2026-07-01), driven only by the
official ``azure-mgmt-appcontainers`` client over HTTPS. Revisions really run on the Docker
engine; requests go through the environment's ingress on its static IP, by host name."""
from __future__ import annotations

import collections
import ssl
import uuid

import docker
import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.appcontainers.models import (
    Configuration, Container, ContainerApp, ContainerResources, EnvironmentVar, Ingress,
    Scale, ScaleRule, HttpScaleRule, Secret, Template, TrafficWeight)

from moto_fixtures.azure.apps_fixtures import azure_apps_environment  # noqa: F401 - fixture
from moto_fixtures.azure.echo_image import build_and_push
from moto_fixtures.azure.fixtures import azure_emulator  # noqa: F401 - pytest fixture
from moto_fixtures.azure.registry import LocalRegistry
from moto_fixtures.azure.runtime import GROUP_LABEL

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def image():
    client = docker.from_env()
    with LocalRegistry() as registry:
        yield build_and_push(client, f"{registry.host}/modelport-test/echo")
    client.close()


@pytest.fixture()
def client(azure_emulator):
    return azure_emulator.apps_client()


def _app(env, image, suffix, marker, traffic=None, mode="Multiple", cpu=0.5, memory="1Gi",
         insecure=False):
    container = Container(name="main", image=image, resources=ContainerResources(cpu=cpu, memory=memory),
                          env=[EnvironmentVar(name="MARKER", value=marker),
                               EnvironmentVar(name="TOKEN", secret_ref="token")])
    return ContainerApp(
        location=env.azure.location, tags={"modelport:deployment": "x"},
        environment_id=env.id,
        configuration=Configuration(
            active_revisions_mode=mode, secrets=[Secret(name="token", value="s3cr3t")],
            ingress=Ingress(external=True, target_port=8080, allow_insecure=insecure, traffic=traffic)),
        template=Template(revision_suffix=suffix, containers=[container],
                          scale=Scale(min_replicas=0, max_replicas=3, rules=[ScaleRule(
                              name="http", http=HttpScaleRule(metadata={"concurrentRequests": "5"}))])))


def _get(env, host, path, ca, scheme="https", **kwargs):
    port = 443 if scheme == "https" else 80
    verify = ssl.create_default_context(cafile=ca) if ca else True
    return httpx.get(f"{scheme}://{env.static_ip}:{port}{path}", headers={"Host": host},
                     verify=verify, timeout=10, **kwargs)


def test_environment_is_created_as_a_long_running_operation(client, azure_emulator):
    from azure.mgmt.appcontainers.models import ManagedEnvironment
    name = f"env-{uuid.uuid4().hex[:6]}"
    poller = client.managed_environments.begin_create_or_update(
        azure_emulator.resource_group, name, ManagedEnvironment(location="East US"))
    assert not poller.done()  # the first status poll answers InProgress, as the service does
    env = poller.result()
    assert env.provisioning_state == "Succeeded" and env.static_ip.startswith("127.")
    assert env.default_domain.endswith(".eastus.azurecontainerapps.io")
    client.managed_environments.begin_delete(azure_emulator.resource_group, name).result()
    with pytest.raises(ResourceNotFoundError):
        client.managed_environments.get(azure_emulator.resource_group, name)


def test_revisions_traffic_labels_and_deactivate(client, azure_apps_environment, image):
    env, rg = azure_apps_environment, azure_apps_environment.azure.resource_group
    ca = env.azure.ca_pem
    name = f"app-{uuid.uuid4().hex[:6]}"
    first = client.container_apps.begin_create_or_update(rg, name, _app(env, image, "r1", "one")).result()
    assert first.provisioning_state == "Succeeded"
    assert first.latest_ready_revision_name == f"{name}--r1"
    assert [s.value for s in first.configuration.secrets] == [None]  # values are never returned
    host = first.configuration.ingress.fqdn
    reply = _get(env, host, "/env/MARKER", ca)
    assert reply.json() == {"value": "one"}
    assert _get(env, host, "/env/TOKEN", ca).json() == {"value": "s3cr3t"}
    # allowInsecure false: plain HTTP is redirected to HTTPS
    redirect = _get(env, host, "/x", None, scheme="http")
    assert redirect.status_code == 301 and redirect.headers["location"] == f"https://{host}/x"

    keep = [TrafficWeight(revision_name=f"{name}--r1", weight=100, label="r1")]
    client.container_apps.begin_create_or_update(rg, name, _app(env, image, "r2", "two", keep)).result()
    split = [TrafficWeight(revision_name=f"{name}--r1", weight=50, label="r1"),
             TrafficWeight(revision_name=f"{name}--r2", weight=50, label="r2")]
    app = client.container_apps.begin_create_or_update(rg, name, _app(env, image, "r2", "two", split)).result()
    revisions = {r.name: r for r in client.container_apps_revisions.list_revisions(rg, name)}
    assert set(revisions) == {f"{name}--r1", f"{name}--r2"}  # a config-only change adds none
    assert {r.traffic_weight for r in revisions.values()} == {50}
    label_host = host.replace(f"{name}.", f"{name}---r2.", 1)
    assert all(_get(env, label_host, "/env/MARKER", ca).json()["value"] == "two" for _ in range(5))
    seen = collections.Counter(_get(env, host, "/env/MARKER", ca).json()["value"] for _ in range(40))
    assert seen["one"] > 3 and seen["two"] > 3

    with pytest.raises(HttpResponseError, match="receives 50% of the traffic"):
        client.container_apps_revisions.deactivate_revision(rg, name, f"{name}--r1")
    only_r2 = [TrafficWeight(revision_name=f"{name}--r2", weight=100, label="r2")]
    client.container_apps.begin_create_or_update(rg, name, _app(env, image, "r2", "two", only_r2)).result()
    client.container_apps_revisions.deactivate_revision(rg, name, f"{name}--r1")
    old = client.container_apps_revisions.get_revision(rg, name, f"{name}--r1")
    assert old.active is False and old.traffic_weight == 0
    assert app.latest_revision_name == f"{name}--r2"

    # the app's host name is per environment: the same name in another resource group is refused
    env.azure.emulator.add_resource_group(env.azure.subscription_id, f"{rg}-other", env.azure.location)
    with pytest.raises(HttpResponseError) as caught:
        client.container_apps.begin_create_or_update(f"{rg}-other", name, _app(env, image, "r1", "x"))
    assert caught.value.error.code == "ContainerAppNameConflict"

    client.container_apps.begin_delete(rg, name).result()
    with pytest.raises(ResourceNotFoundError):
        client.container_apps.get(rg, name)
    left = docker.from_env().containers.list(all=True, filters={"label": f"{GROUP_LABEL}={app.id}"})
    assert left == []


@pytest.mark.parametrize("change, code", [
    ({"cpu": 0.5, "memory": "2Gi"}, "InvalidContainerAppResources"),        # not a pair
    ({"cpu": 2.5, "memory": "5Gi"}, "InvalidContainerAppResources"),        # above Consumption
    ({"cpu": 0.333, "memory": "0.666Gi"}, "InvalidContainerAppResources"),  # 3 decimals
    ({"traffic": [TrafficWeight(latest_revision=True, weight=90)]}, "ContainerAppInvalidTraffic"),
    ({"traffic": [TrafficWeight(latest_revision=True, weight=100, label="Bad--Label")]},
     "ContainerAppInvalidLabel"),
    ({"traffic": [TrafficWeight(revision_name="nope--r1", weight=100)]}, "ContainerAppInvalidTraffic"),
    ({"mode": "Single", "traffic": [TrafficWeight(revision_name="x--r1", weight=100)]},
     "ContainerAppInvalidTraffic"),
    ({"suffix": "R1"}, "ContainerAppInvalidRevisionSuffix"),
])
def test_refuses_what_the_service_refuses(client, azure_apps_environment, image, change, code):
    env = azure_apps_environment
    suffix = change.pop("suffix", "r1")
    body = _app(env, image, suffix, "x", **change)
    with pytest.raises(HttpResponseError) as caught:
        client.container_apps.begin_create_or_update(env.azure.resource_group, "refused", body)
    assert caught.value.error.code == code


def test_refuses_bad_names_scale_secrets_and_api_versions(client, azure_apps_environment, image):
    env, rg = azure_apps_environment, azure_apps_environment.azure.resource_group
    with pytest.raises(HttpResponseError) as caught:
        client.container_apps.begin_create_or_update(rg, "Bad--Name", _app(env, image, "r1", "x"))
    assert caught.value.error.code == "ContainerAppInvalidName"
    body = _app(env, image, "r1", "x")
    body.template.scale.min_replicas = 5
    with pytest.raises(HttpResponseError) as caught:
        client.container_apps.begin_create_or_update(rg, "scale", body)
    assert caught.value.error.code == "ContainerAppInvalidScale"
    body = _app(env, image, "r1", "x")
    body.configuration.secrets = []
    with pytest.raises(HttpResponseError) as caught:
        client.container_apps.begin_create_or_update(rg, "secrets", body)
    assert caught.value.error.code == "ContainerAppSecretInvalid"
    old = env.azure.apps_client(api_version="2024-03-01")
    with pytest.raises(HttpResponseError) as caught:
        old.container_apps.get(rg, "any")
    assert caught.value.error.code == "NoRegisteredProviderFound"
