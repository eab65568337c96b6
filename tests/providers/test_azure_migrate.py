"""Migrations to and from Container Instances (ARM emulator): local <-> azure and gcp <-> azure,
both ways. The same image digest runs everywhere (a spec's size must already be valid on every
target it names: the spec is checked against all of them); predictions are checked through each target's reported endpoint after every move."""

from __future__ import annotations

import pytest

import modelport.api as mp
from tests.providers.azure.helpers import (address, azure_emulator, azure_target, groups,  # noqa: F401
                                           modelport_home, served_version, unique, write_project)
from tests.providers.gcp.helpers import cloud, gcp_target, read_service  # noqa: F401

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


def test_migrate_local_to_azure_and_back(tmp_path, session, azure_emulator, registry, local_cleanup):
    arm, name = azure_emulator, unique("a")
    local_cleanup.append(name)
    project = write_project(tmp_path / "v1", "1", name, {"dev": {"provider": "local"},
                                                         "azure": azure_target(arm, registry)})
    first = mp.deploy(project, "dev", session=session)
    digest = first.outputs["image"]["digest"]
    assert served_version(first.endpoint) == "1"

    moved = mp.migrate(name, "dev", "azure", retire_source=True, session=session)
    [group] = groups(arm, name).values()
    container = group.containers[0]
    assert moved.endpoint == address(group) and moved.outputs["image"]["digest"] == digest
    assert container.image == f"{registry.host}/azure/{name}@{digest}"
    assert container.resources.requests.memory_in_gb == 1.0
    assert served_version(moved.endpoint) == "1"
    assert [r["target"] for r in mp.status(session=session)] == ["azure"]

    back = mp.migrate(name, "azure", "dev", retire_source=True, session=session)
    assert back.outputs["image"]["digest"] == digest and served_version(back.endpoint) == "1"
    assert groups(arm, name) == {}
    assert [r["target"] for r in mp.status(session=session)] == ["dev"]
    mp.destroy(name, "dev", session=session)


def test_migrate_gcp_to_azure_and_back(tmp_path, session, azure_emulator, cloud, registry):  # noqa: F811
    arm, name = azure_emulator, unique("a")
    project = write_project(tmp_path / "v2", "2", name, {"gcp": gcp_target(cloud, registry),
                                                         "azure": azure_target(arm, registry)})
    try:
        first = mp.deploy(project, "gcp", session=session)
        digest = first.outputs["image"]["digest"]
        assert served_version(first.endpoint) == "2"

        moved = mp.migrate(name, "gcp", "azure", retire_source=True, session=session)
        [group] = groups(arm, name).values()
        assert moved.endpoint == address(group) and moved.outputs["image"]["digest"] == digest
        assert group.containers[0].image == f"{registry.host}/azure/{name}@{digest}"
        assert served_version(moved.endpoint) == "2"
        assert [r["target"] for r in mp.status(session=session)] == ["azure"]

        back = mp.migrate(name, "azure", "gcp", retire_source=True, session=session)
        assert back.outputs["image"]["digest"] == digest
        assert back.endpoint == read_service(cloud, name).uri and served_version(back.endpoint) == "2"
        assert groups(arm, name) == {}
        assert [r["target"] for r in mp.status(session=session)] == ["gcp"]
    finally:
        for target in ("gcp", "azure"):
            try:
                mp.destroy(name, target, session=session)
            except Exception:
                pass  # not deployed there
    assert groups(arm, name) == {}
