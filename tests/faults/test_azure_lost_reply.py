""""Applied but the reply was lost" at every write primitive of the azure provider.

The provider talks to the ARM emulator through the intercepting proxy (only ``base_url`` and
``ca_bundle`` change, as for a user behind a proxy). For each write (PUT create, PATCH tags, PUT
in-place update, DELETE) the proxy forwards the request, the emulator applies it, and the client
sees a reset instead of the answer. The primitive then runs under the engine's retry policy, as a
step does: azure-core repeats PUT and DELETE by itself (and gets ContainerGroupTransitioning or
the running delete), PATCH is not repeated by the SDK, so the engine's retry reads first and finds
the write done. Each must end exactly as without the fault: one group per revision, the right
tags, nothing duplicated or left behind.

The same fault inside whole operations (swap, with the engine's undo) is in test_fault_points.py.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from modelport.engine.retry import ProviderRetryPolicy, call
from modelport.provider import ImageRef, RevisionSpec, Size, Target
from moto_fixtures.azure.echo_image import build_and_push
from moto_fixtures.azure.fixtures import azure_emulator  # noqa: F401  (the session's ARM emulator)
from moto_fixtures.azure.tls import make_tls_files
from moto_fixtures.proxy import InterceptingProxy

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]

TOKEN_ENV = "MODELPORT_LOST_REPLY_AZURE_TOKEN"
GROUP = "/subscriptions/*/resourceGroups/*/providers/Microsoft.ContainerInstance/containerGroups/*"
POLICY = ProviderRetryPolicy(attempts=4, initial=0.2, max_wait=1.0, jitter=0.1, total=60)


@pytest.fixture(scope="module")
def proxied(azure_emulator, tmp_path_factory):  # noqa: F811
    """The session's ARM emulator behind a TLS intercepting proxy."""
    tls = make_tls_files(tmp_path_factory.mktemp("lost-reply-tls"))
    with InterceptingProxy(azure_emulator.base_url, tls=(str(tls.cert_pem), str(tls.key_pem)),
                           upstream_ca=azure_emulator.ca_pem, flavour="azure") as proxy:
        yield proxy, str(tls.ca_pem)


@pytest.fixture(scope="module")
def echo(docker_client, registry):
    """A small HTTP image (answers every path with 200, so probes pass) in the session registry."""
    return build_and_push(docker_client, f"{registry.host}/lost-reply/echo")


@pytest.fixture
def target(azure_emulator, proxied, registry, monkeypatch):  # noqa: F811
    from modelport_providers.azure.settings import AzureSettings

    proxy, ca = proxied
    monkeypatch.setenv(TOKEN_ENV, "emulator-token")
    return Target("lost", "azure", AzureSettings(
        subscription_id=azure_emulator.subscription_id, resource_group=azure_emulator.resource_group,
        location=azure_emulator.location, base_url=proxy.url, ca_bundle=ca, token_env=TOKEN_ENV,
        registry=f"{registry.host}/lost-reply", endpoint_host="ip"))


def _rev(deployment: str, revision: str, ref: str, marker: str) -> RevisionSpec:
    digest = ref.split("@", 1)[1]
    return RevisionSpec(deployment, revision, ImageRef(digest, digest, ref), Size(0.5, 512), 8080,
                        {"MARKER": marker}, {}, 1, 1, 80, "echo", "1.0.0", f"config-{marker}")


def _with_lost_reply(proxy, method: str, primitive: str, fn):
    """Run ``fn`` (one provider primitive) under the engine's retry with the first ``method``
    call on a container group applied but its reply lost; returns what ``fn`` returned."""
    before = len(proxy.faulted)
    proxy.fail_call(f"{method} {GROUP}", "lost_reply")
    try:
        result = call(fn, primitive, POLICY, lambda _m: None, primitive)
    finally:
        proxy.clear()
    assert [f[2] for f in proxy.faulted[before:]] == ["lost_reply"], f"the {method} was not faulted"
    return result


def _groups(azure_emulator, deployment: str) -> dict[str, dict]:  # noqa: F811
    """name -> tags of the deployment's groups, read with the official client around the proxy."""
    client = azure_emulator.client()
    return {g.name: dict(g.tags) for g in client.container_groups.list_by_resource_group(azure_emulator.resource_group)
            if (g.tags or {}).get("modelport:deployment") == deployment}


def test_every_write_primitive_survives_a_lost_reply(azure_emulator, proxied, target, echo):  # noqa: F811
    from modelport_providers.azure.provider import AzureProvider

    proxy, _ = proxied
    provider, name = AzureProvider(), f"lr{uuid.uuid4().hex[:7]}"
    r1, r2 = _rev(name, "r1", echo, "1"), _rev(name, "r2", echo, "2")
    try:
        # create (PUT): azure-core repeats the PUT and meets the running create; the retried
        # create_revision finds the group it made, with the same config
        made = _with_lost_reply(proxy, "PUT", "create_revision", lambda: provider.create_revision(target, r1))
        assert made.name == "r1" and made.config == r1.config
        found = _groups(azure_emulator, name)
        assert list(found) == [f"{name}-r1"] and found[f"{name}-r1"]["modelport:active"] == "1"
        provider.create_revision(target, r2)

        # traffic (PATCH of tags): not repeated by the SDK; the retry reads and sees r2 serving
        _with_lost_reply(proxy, "PATCH", "set_traffic", lambda: provider.set_traffic(target, name, {"r2": 100}))
        assert dict(provider.observe(target, name).traffic) == {"r2": 100}
        assert {n: t.get("modelport:active") for n, t in _groups(azure_emulator, name).items()} == {
            f"{name}-r1": "1", f"{name}-r2": "2"}, "one switch, not two"

        # in-place update (PUT on the serving group): the retried update finds it done
        r3 = replace(_rev(name, "r3", echo, "3"))
        updated = _with_lost_reply(proxy, "PUT", "update_revision",
                                   lambda: provider.update_revision(target, "r2", r3))
        assert (updated.name, updated.config) == ("r3", r3.config)
        tags = _groups(azure_emulator, name)[f"{name}-r2"]
        assert (tags["modelport:revision"], tags["modelport:config"], tags["modelport:active"]) == (
            "r3", r3.config, "2")

        # delete (DELETE): azure-core repeats it and meets the running delete (or nothing left)
        _with_lost_reply(proxy, "DELETE", "delete_revision", lambda: provider.delete_revision(target, name, "r1"))
        assert list(_groups(azure_emulator, name)) == [f"{name}-r2"]
        assert [r.name for r in provider.observe(target, name).revisions] == ["r3"]
    finally:
        provider.destroy(target, name)
    assert _groups(azure_emulator, name) == {}
