"""Pure tests of the azure provider: RevisionSpec -> ARM container group, settings, tag mapping."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from modelport.errors import SpecError, UsageError
from modelport.provider import ImageRef, RevisionSpec, Size, Target
from modelport_providers.azure import translate as tr
from modelport_providers.azure.provider import AzureProvider
from modelport_providers.azure.settings import AzureSettings

DIGEST = "sha256:" + "ab" * 32
SUB = "00000000-0000-0000-0000-000000000000"


def settings(**kw) -> AzureSettings:
    return AzureSettings(subscription_id=SUB, resource_group="rg", location="westeurope", acr="myacr", **kw)


def spec(**kw) -> RevisionSpec:
    base = dict(deployment="iris", revision="r3", image=ImageRef(DIGEST, "sha256:" + "cd" * 32,
                                                                    f"myacr.azurecr.io/iris@{DIGEST}"),
                size=Size(1.5, 2048), port=8080, env={"LOG_LEVEL": "info"}, secrets={"API_KEY": "env:SRC"},
                min_instances=1, max_instances=1, concurrency=80, model_name="iris", model_version="2.0.0",
                config="c0ffee", secret_values={"API_KEY": "s3cr3t"})
    return RevisionSpec(**{**base, **kw})


def test_container_group_public():
    body = tr.container_group(spec(), settings(), active=4, reveal=True)
    assert body == {
        "location": "westeurope",
        "tags": {"modelport:deployment": "iris", "modelport:revision": "r3", "modelport:digest": DIGEST,
                 "modelport:config": "c0ffee", "modelport:model-version": "2.0.0", "modelport:active": "4"},
        "properties": {
            "containers": [{"name": "model", "properties": {
                "image": f"myacr.azurecr.io/iris@{DIGEST}",
                "ports": [{"port": 8080, "protocol": "TCP"}],
                "environmentVariables": [{"name": "PORT", "value": "8080"},
                                         {"name": "API_KEY", "secureValue": "s3cr3t"},
                                         {"name": "LOG_LEVEL", "value": "info"}],
                "resources": {"requests": {"cpu": 1.5, "memoryInGB": 2.0}},
                "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "scheme": "http", "port": 8080},
                                   "initialDelaySeconds": 1, "periodSeconds": 5, "timeoutSeconds": 3,
                                   "failureThreshold": 3, "successThreshold": 1},
                "livenessProbe": {"httpGet": {"path": "/v2/health/ready", "port": 8080, "scheme": "http"},
                                  "initialDelaySeconds": 60, "periodSeconds": 15, "timeoutSeconds": 5,
                                  "failureThreshold": 3, "successThreshold": 1}}}],
            "osType": "Linux", "restartPolicy": "Always", "sku": "Standard",
            "ipAddress": {"type": "Public", "ports": [{"port": 8080, "protocol": "TCP"}],
                          "dnsNameLabel": "iris-r3"}}}


def test_secrets_hidden_unless_revealed():
    body = tr.container_group(spec(), settings())
    env = body["properties"]["containers"][0]["properties"]["environmentVariables"]
    assert {"name": "API_KEY", "secureValue": "***"} in env
    assert "s3cr3t" not in repr(body) and "s3cr3t" not in repr(spec())


def test_unresolved_secret_is_refused():
    with pytest.raises(UsageError, match="API_KEY"):
        tr.environment(spec(secret_values={}), reveal=True)


def test_reserved_env_is_refused():
    with pytest.raises(SpecError) as err:
        tr.environment(spec(env={"PORT": "1"}))
    assert err.value.field == "env.PORT"


def test_private_subnet_gpu_and_restart_policy():
    s = settings(subnet_id="/subscriptions/x/subnets/aci", restart_policy="OnFailure")
    body = tr.container_group(spec(size=Size(2, 4096, 1, "V100")), s)
    props = body["properties"]
    assert props["ipAddress"] == {"type": "Private", "ports": [{"port": 8080, "protocol": "TCP"}]}
    assert props["subnetIds"] == [{"id": "/subscriptions/x/subnets/aci"}]
    assert props["restartPolicy"] == "OnFailure"
    assert props["containers"][0]["properties"]["resources"]["requests"] == {
        "cpu": 2, "memoryInGB": 4.0, "gpu": {"count": 1, "sku": "V100"}}
    assert "tags" in body and "modelport:active" not in body["tags"]


def test_registry_credentials():
    assert tr.registry_credentials(settings(), "myacr.azurecr.io", "admin", "pw", reveal=True) == [
        {"server": "myacr.azurecr.io", "username": "admin", "password": "pw"}]
    assert tr.registry_credentials(settings(), "myacr.azurecr.io", "admin", "pw") == [
        {"server": "myacr.azurecr.io", "username": "admin", "password": "***"}]
    ident = settings(acr_identity="/subscriptions/x/identities/pull")
    assert tr.registry_credentials(ident, "myacr.azurecr.io", None, None) == [
        {"server": "myacr.azurecr.io", "identity": "/subscriptions/x/identities/pull"}]
    override = AzureSettings(subscription_id=SUB, resource_group="rg", location="eastus", registry="127.0.0.1:5000/m")
    assert tr.registry_credentials(override, "127.0.0.1:5000", None, None) == []


def test_names_and_dns_labels():
    assert tr.group_name("iris", "r12") == "iris-r12"
    assert tr.dns_label(settings(), "iris", "r2") == "iris-r2"
    assert tr.dns_label(settings(dns_label_prefix="acme-iris"), "iris", "r2") == "acme-iris-r2"


def test_image_must_be_pushed_by_digest():
    with pytest.raises(UsageError, match="push it first"):
        tr.container(spec(image=ImageRef(DIGEST, "sha256:" + "cd" * 32)))


def test_provider_registry_and_translate():
    p = AzureProvider()
    target = Target("az", "azure", settings())
    assert p.registry(target, "iris").repository == "myacr.azurecr.io/iris"
    local = Target("az", "azure", AzureSettings(subscription_id=SUB, resource_group="rg", location="eastus",
                                               registry="127.0.0.1:5000/models"))
    assert p.registry(local, "iris").repository == "127.0.0.1:5000/models/iris"
    shown = p.translate(spec(), target)
    assert shown["container_group"].endswith("/resourceGroups/rg/providers/Microsoft.ContainerInstance/"
                                             "containerGroups/iris-r3")
    assert "s3cr3t" not in repr(shown)
    assert p.capabilities.traffic_split is False and p.capabilities.in_place_update is True


@pytest.mark.parametrize("bad", [
    {},  # neither acr nor registry
    {"acr": "myacr", "acr_username_env": "U"},  # username without password
    {"acr": "myacr", "unknown": 1},
    {"acr": "myacr", "restart_policy": "Sometimes"},
])
def test_settings_refused(bad):
    with pytest.raises(ValidationError):
        AzureSettings(subscription_id=SUB, resource_group="rg", location="eastus", **bad)


def test_token_env_credential(monkeypatch):
    from modelport.errors import ProviderError
    from modelport_providers.azure.client import EnvTokenCredential, credential

    cred = credential(settings(token_env="MY_TOKEN"))
    assert isinstance(cred, EnvTokenCredential)
    monkeypatch.setenv("MY_TOKEN", "tok-123\n")
    assert cred.get_token("https://management.azure.com/.default").token == "tok-123"
    monkeypatch.delenv("MY_TOKEN")
    with pytest.raises(ProviderError, match="MY_TOKEN") as err:
        cred.get_token("x")
    assert "tok-123" not in str(err.value)


def test_default_credential_is_azure_identity():
    from azure.identity import DefaultAzureCredential

    from modelport_providers.azure.client import credential

    assert isinstance(credential(settings()), DefaultAzureCredential)
