"""azure provider against the ARM emulator (HTTPS, official azure-mgmt-containerinstance client),
driven through modelport's public API; what the cloud holds is read back with the official client."""

from __future__ import annotations

import pytest

import modelport.api as mp
from modelport.errors import ProviderError
from modelport.provider import TAG_CONFIG, TAG_DIGEST
from tests.providers.azure.helpers import (address, azure_emulator, azure_target, groups,  # noqa: F401
                                           modelport_home, served_version, unique, write_project)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]


def test_deploy_status_noop_destroy(tmp_path, session, azure_emulator, registry, monkeypatch):
    arm = azure_emulator
    name = unique("a")
    monkeypatch.setenv("API_KEY_SOURCE", "s3cr3t-value")
    project = write_project(tmp_path / "v1", "1", name, {"azure": azure_target(arm, registry)},
                            secrets={"API_KEY": "env:API_KEY_SOURCE"})
    result = mp.deploy(project, "azure", session=session)
    assert result.status == "succeeded" and result.revision == "r1"
    found = groups(arm, name)
    assert list(found) == [f"{name}-r1"]
    group = found[f"{name}-r1"]
    assert result.endpoint == address(group)
    assert served_version(result.endpoint) == "1"

    # what ACI holds, read with the official client
    container = group.containers[0]
    assert "@sha256:" in container.image and group.tags[TAG_DIGEST] in container.image
    assert group.tags[TAG_CONFIG] and group.tags["modelport:active"] == "1"
    assert container.resources.requests.cpu == 1 and container.resources.requests.memory_in_gb == 1
    assert container.readiness_probe.http_get.path == "/v2/health/ready"
    assert container.liveness_probe.http_get.path == "/v2/health/ready"
    env = {e.name: e for e in container.environment_variables}
    assert env["LOG_LEVEL"].value == "info" and env["API_KEY"].value is None  # secureValue is never returned
    assert group.ip_address.type == "Public" and group.ip_address.dns_name_label == f"{name}-r1"
    assert group.restart_policy == "Always"

    [status] = mp.status(name, session=session)
    assert status["traffic"] == {"r1": 100} and status["endpoint"] == result.endpoint
    assert [(r["name"], r["digest"], r["ready"], r["model_version"]) for r in status["revisions"]] == [
        ("r1", group.tags[TAG_DIGEST], True, "1.0.0")]
    assert status["drift"] == []
    assert "s3cr3t-value" not in str(status) + str(mp.plan(project, "azure", session=session).to_dict())

    again = mp.plan(project, "azure", session=session)
    assert again.empty, again
    assert mp.deploy(project, "azure", session=session).status == "unchanged"

    mp.destroy(name, "azure", session=session)
    assert groups(arm, name) == {}
    assert mp.status(session=session) == []


def test_private_subnet_resources_and_logs(tmp_path, session, azure_emulator, registry):
    arm, name = azure_emulator, unique("a")
    subnet = (f"/subscriptions/{arm.subscription_id}/resourceGroups/{arm.resource_group}/providers/"
              "Microsoft.Network/virtualNetworks/vnet/subnets/aci")
    settings = azure_target(arm, registry, subnet_id=subnet, restart_policy="OnFailure")
    project = write_project(tmp_path / "v1", "1", name, {"azure": settings})
    result = mp.deploy(project, "azure", session=session)
    group = groups(arm, name)[f"{name}-r1"]
    assert group.ip_address.type == "Private" and group.ip_address.dns_name_label is None
    assert [s.id for s in group.subnet_ids] == [subnet] and group.restart_policy == "OnFailure"
    assert result.endpoint == address(group) and served_version(result.endpoint) == "1"

    provider, target = session.target(mp.validate(project, session), "azure")
    [resource] = [r for r in provider.list_resources(target) if r.deployment == name]
    assert (resource.kind, resource.revision, resource.digest) == ("container-group", "r1", group.tags[TAG_DIGEST])
    assert isinstance(mp.logs(name, "azure", session=session), str)
    provider.delete_resource(target, resource)
    assert groups(arm, name) == {}
    mp.destroy(name, "azure", session=session)


def test_arm_error_becomes_provider_error(tmp_path, session, azure_emulator, registry, monkeypatch):
    arm, first, second = azure_emulator, unique("a"), unique("a")
    monkeypatch.setenv("API_KEY_SOURCE", "s3cr3t-value")
    target = {"azure": azure_target(arm, registry, dns_label_prefix=f"shared{first}")}
    mp.deploy(write_project(tmp_path / "one", "1", first, target), "azure", session=session)
    try:
        # the same DNS label in the same region: ARM refuses the second group
        with pytest.raises(ProviderError) as err:
            mp.deploy(write_project(tmp_path / "two", "1", second, target, secrets={"API_KEY": "env:API_KEY_SOURCE"}),
                      "azure", session=session)
        assert "DnsNameLabelAlreadyTaken" in str(err.value) and "s3cr3t-value" not in str(err.value)
        assert groups(arm, second) == {}
        assert list(groups(arm, first)) == [f"{first}-r1"]
    finally:
        mp.destroy(first, "azure", session=session)
    assert groups(arm, first) == {}
