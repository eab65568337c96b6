"""Migrations to and from Cloud Run (emulator): local <-> gcp and aws <-> gcp, both ways. The same
image digest runs everywhere; the size is fitted to Cloud Run (with notes); predictions are
checked through each target's endpoint after every move."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as gexc

import modelport.api as mp
from tests.providers.gcp.helpers import (cloud, gcp_target, modelport_home, read_service,  # noqa: F401
                                         served_version, service_containers, unique, write_project)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


def test_migrate_local_to_gcp_and_back(tmp_path, session, cloud, registry, local_cleanup):
    name = unique()
    local_cleanup.append(name)
    # the example's size: 0.5 vCPU with concurrency 80 runs locally, not as such on Cloud Run
    # (validate refuses it with a gcp target): deployed locally first, the gcp target added later
    project = write_project(tmp_path / "v1", "1", name, {"dev": {"provider": "local"}}, cpu=0.5, concurrency=80)
    first = mp.deploy(project, "dev", session=session)
    with_gcp = write_project(tmp_path / "v1-gcp", "1", name, {"dev": {"provider": "local"},
                                                              "gcp": gcp_target(cloud, registry)},
                             cpu=0.5, concurrency=80)
    (project / "modelport.toml").write_text((with_gcp / "modelport.toml").read_text())
    digest = first.outputs["image"]["digest"]
    assert served_version(first.endpoint) == "1"

    moved = mp.migrate(name, "dev", "gcp", retire_source=True, session=session)
    service = read_service(cloud, name)
    assert moved.endpoint == service.uri and moved.outputs["image"]["digest"] == digest
    assert service.template.containers[0].image.endswith(f"@{digest}")
    assert dict(service.template.containers[0].resources.limits) == {"cpu": "1", "memory": "1024Mi"}
    assert any("0.5 -> 1 vCPU" in note for note in moved.outputs["size_notes"]), moved.outputs["size_notes"]
    assert served_version(moved.endpoint) == "1"
    assert [r["target"] for r in mp.status(session=session)] == ["gcp"]

    back = mp.migrate(name, "gcp", "dev", retire_source=True, session=session)
    assert back.outputs["image"]["digest"] == digest
    assert served_version(back.endpoint) == "1"
    with pytest.raises(gexc.NotFound):
        read_service(cloud, name)
    assert service_containers(cloud, name) == []
    assert [r["target"] for r in mp.status(session=session)] == ["dev"]
    mp.destroy(name, "dev", session=session)


def test_migrate_aws_to_gcp_and_back(tmp_path, session, cloud, registry, aws_emulation):  # noqa: F811
    aws = aws_emulation
    name = unique()
    aws_target = {"provider": "aws", "endpoint_url": aws.endpoint_url, "region": aws.region,
                  "registry": f"{aws.registry}/modelport"}
    project = write_project(tmp_path / "v1", "1", name, {"aws": aws_target, "gcp": gcp_target(cloud, registry)},
                            cpu=1, memory="2Gi")
    try:
        first = mp.deploy(project, "aws", session=session)
        digest = first.outputs["image"]["digest"]
        assert served_version(first.endpoint) == "1"

        moved = mp.migrate(name, "aws", "gcp", retire_source=True, session=session)
        service = read_service(cloud, name)
        assert moved.endpoint == service.uri and moved.outputs["image"]["digest"] == digest
        assert service.template.containers[0].image == f"{registry.host}/gcp/{name}@{digest}"
        assert served_version(moved.endpoint) == "1"
        assert [r["target"] for r in mp.status(session=session)] == ["gcp"]

        back = mp.migrate(name, "gcp", "aws", retire_source=True, session=session)
        assert back.outputs["image"]["digest"] == digest
        assert served_version(back.endpoint) == "1"
        with pytest.raises(gexc.NotFound):
            read_service(cloud, name)
        assert [r["target"] for r in mp.status(session=session)] == ["aws"]
    finally:
        for target in ("aws", "gcp"):
            try:
                mp.destroy(name, target, spec=project, session=session)
            except Exception:  # noqa: BLE001 - best effort: the other target must be cleaned too
                pass
