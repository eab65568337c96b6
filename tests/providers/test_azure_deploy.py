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
    # another Azure customer already holds the plain label <name>-r1 in this region
    arm.emulator.hold_dns_name(arm.location, f"{name}-r1")
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
    assert container.liveness_probe.http_get.path == "/v2/health/live"  # not the model's readiness
    env = {e.name: e for e in container.environment_variables}
    assert env["LOG_LEVEL"].value == "info" and env["API_KEY"].value is None  # secureValue is never returned
    assert group.ip_address.type == "Public" and group.ip_address.dns_name_label == f"{name}-r1"
    # the label is scoped to the resource group: a hash in the fqdn, so nobody else's label collides
    assert group.ip_address.auto_generated_domain_name_label_scope == "ResourceGroupReuse"
    label, digest, region = group.ip_address.fqdn.split(".", 3)[:3]
    assert (label, region, len(digest)) == (f"{name}-r1", arm.location, 16)
    assert group.restart_policy == "Always"
    assert group.identity is None  # no ACR identity: nothing attached

    [status] = mp.status(name, session=session)
    assert status["traffic"] == {"r1": 100} and status["endpoint"] == result.endpoint
    assert [(r["name"], r["digest"], r["ready"], r["model_version"]) for r in status["revisions"]] == [
        ("r1", group.tags[TAG_DIGEST], True, "1.0.0")]
    assert status["drift"] == []
    assert "s3cr3t-value" not in str(status) + str(mp.plan(project, "azure", session=session).to_dict())

    again = mp.plan(project, "azure", session=session)
    assert again.empty, again
    assert mp.deploy(project, "azure", session=session).status == "unchanged"
    _pull_with_acr_identity(session, project, arm, container.image)

    mp.destroy(name, "azure", session=session)
    assert groups(arm, name) == {}
    assert mp.status(session=session) == []


def _pull_with_acr_identity(session, project, arm, image_ref: str) -> None:
    """A revision of a target pulling from ACR with a user-assigned identity is created with that
    identity attached to its group (ARM refuses a registry identity the group does not have).
    The image is the one just deployed (a local registry stands in for the ACR's data plane)."""
    from dataclasses import replace

    from modelport.engine.revision import revision_spec
    from modelport.provider import ImageRef, Target

    identity = (f"/subscriptions/{arm.subscription_id}/resourceGroups/{arm.resource_group}/providers/"
                "Microsoft.ManagedIdentity/userAssignedIdentities/acr-pull")
    loaded = mp.validate(project, session)
    provider, target = session.target(loaded, "azure")
    settings = type(target.settings)(**{**target.settings.model_dump(), "registry": None, "acr": "modelportacr",
                                         "acr_identity": identity})
    acr = Target("acr", "azure", settings)
    digest = image_ref.split("@", 1)[1]
    deployment = loaded.spec.deployment + "id"
    rev = revision_spec(loaded.spec, ImageRef(digest, digest, image_ref), "r1", target_settings=settings)
    rev = replace(rev, deployment=deployment, secret_values={k: "unused" for k in rev.secrets})
    try:
        created = provider.create_revision(acr, rev)
        assert created.name == "r1"
        group = groups(arm, deployment)[f"{deployment}-r1"]
        assert [k.lower() for k in group.identity.user_assigned_identities] == [identity.lower()]
        assert [(c.server, c.identity) for c in group.image_registry_credentials] == [
            ("modelportacr.azurecr.io", identity)]
        assert group.provisioning_state == "Succeeded"
    finally:
        provider.destroy(acr, deployment)
    assert groups(arm, deployment) == {}


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
