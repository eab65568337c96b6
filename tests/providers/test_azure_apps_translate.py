"""azure-apps translation and validation (pure, no cloud): the container app body, secrets as app
secrets or Key Vault references, scaling, labels, and what `validate` refuses (exit 2)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from modelport.cli import main
from modelport.provider import ImageRef, RevisionSpec, Size
from modelport_providers.azure_apps import translate as tr
from modelport_providers.azure_apps.settings import AzureAppsSettings
from tests.providers.gcp.helpers import write_project

SUB = "00000000-0000-0000-0000-000000000000"
KV = "https://vault1.vault.azure.net/secrets/db"
SETTINGS = {"subscription_id": SUB, "resource_group": "rg", "location": "eastus", "environment": "env1",
            "registry": "myacr.azurecr.io/models", "acr": "myacr"}


def _rev(**changes) -> RevisionSpec:
    digest = "sha256:" + "a" * 64
    fields = dict(deployment="iris", revision="r3", image=ImageRef(digest, digest, f"myacr.azurecr.io/models/iris@{digest}"),
                  size=Size(0.5, 1024), port=8080, env={"MODE": "fast"}, secrets={"API_KEY": "env:API_KEY", "DB": f"azure-kv:{KV}"},
                  min_instances=0, max_instances=5, concurrency=20, model_name="iris", model_version="1", config="0123abcd0123abcd",
                  secret_values={"API_KEY": "s3cr3t-value"})
    fields.update(changes)
    return RevisionSpec(**fields)


def test_app_body_maps_every_neutral_setting():
    settings = AzureAppsSettings(**SETTINGS)
    body = tr.app_body(_rev(), settings, "/env-id", tr.traffic({"r2": 100}, {"r2": "iris--r2-x", "r3": "iris--r3-y"}),
                       reveal=True)
    props = body["properties"]
    config, template = props["configuration"], props["template"]
    assert config["activeRevisionsMode"] == "Multiple" and props["environmentId"] == "/env-id"
    assert config["ingress"]["traffic"] == [{"revisionName": "iris--r2-x", "label": "r2", "weight": 100},
                                            {"revisionName": "iris--r3-y", "label": "r3", "weight": 0}]
    assert config["secrets"] == [{"name": "api-key", "value": "s3cr3t-value"},
                                 {"name": "db", "keyVaultUrl": KV, "identity": "system"}]
    assert config["registries"] == [{"server": "myacr.azurecr.io", "identity": "system"}]
    assert body["identity"] == {"type": "SystemAssigned"}
    assert template["revisionSuffix"] == "r3-0123abcd0123abcd"
    [container] = template["containers"]
    assert container["resources"] == {"cpu": 0.5, "memory": "1Gi"}
    assert {"name": "API_KEY", "secretRef": "api-key"} in container["env"]
    assert {"name": "MODELPORT_CONFIG", "value": "0123abcd0123abcd"} in container["env"]
    assert template["scale"] == {"minReplicas": 0, "maxReplicas": 5, "rules": [
        {"name": "http-concurrency", "http": {"metadata": {"concurrentRequests": "20"}}}]}


def test_plans_never_hold_a_secret_value():
    shown = json.dumps(tr.app_body(_rev(), AzureAppsSettings(**SETTINGS), "/env-id", []))
    assert "s3cr3t-value" not in shown and '"value": "***"' in shown


@pytest.mark.parametrize("change, field", [
    ({"name": "Bad--Name"}, "name"),
    ({"secrets": {"DB": "azure-kv:http://not-a-vault/x"}}, "secrets.DB"),
    ({"memory": "3Gi"}, "resources.memory"),
])
def test_validate_refuses_what_container_apps_cannot_run(tmp_path, change, field):
    target = {"aca": {"provider": "azure-apps", **SETTINGS}}
    name = change.get("name", "iris-aca")
    project = write_project(tmp_path / "p", "1", name, target, memory=change.get("memory", "2Gi"),
                            secrets=change.get("secrets"))
    run = CliRunner().invoke(main, ["--state", str(tmp_path / "s.db"), "validate", str(project)])
    assert run.exit_code == 2, run.output
    assert field in run.output


def test_settings_name_the_field_and_the_fix():
    with pytest.raises(ValueError, match="registry must be in the ACR"):
        AzureAppsSettings(**{**SETTINGS, "registry": "elsewhere.io/models"})
    with pytest.raises(ValueError, match="key_vault_identity"):
        AzureAppsSettings(**{**SETTINGS, "key_vault_identity": "mine"})


def test_registered_through_the_entry_point_like_an_outside_plugin():
    from importlib.metadata import entry_points

    from modelport.plugins import installed_providers

    [point] = [e for e in entry_points(group="modelport.providers") if e.name == "azure-apps"]
    assert point.value == "modelport_providers.azure_apps.plugin"
    loaded = installed_providers()
    assert "azure-apps" in loaded.providers and not [p for p in loaded.problems if "azure-apps" in p.plugin]
    assert loaded.providers["azure-apps"].capabilities.traffic_split
