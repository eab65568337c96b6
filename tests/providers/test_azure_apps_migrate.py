"""Migrations between Azure Container Apps (ARM emulator) and every other provider, both ways, in
one chain: local -> azure-apps -> gcp -> azure-apps -> azure (ACI) -> azure-apps -> aws ->
azure-apps -> local. The same image digest runs at every hop (read back from the cloud by
``status``), and the model answers through each target's reported endpoint (``predict``, with the
headers its provider names); each source is retired, so nothing is left behind."""

from __future__ import annotations

import pytest

import modelport.api as mp
from tests.iris import SAMPLE, version_of
from tests.providers.azure.helpers import azure_target
from tests.providers.azure.helpers import write_project as one_instance_project
from tests.providers.azure_apps.helpers import (TOKEN_ENV, apps_target, azure_apps_environment,  # noqa: F401
                                                azure_emulator, modelport_home, split, unique)
from tests.providers.gcp.helpers import cloud, gcp_target  # noqa: F401

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1500)]
CHAIN = ["dev", "aca", "gcp", "aca", "azure", "aca", "aws", "aca", "dev"]


def _serving_digest(name: str, target: str, session) -> str:
    [row] = mp.status(name, target, session=session)
    active = max(row["traffic"].items(), key=lambda kv: kv[1])[0]
    return next(r["digest"] for r in row["revisions"] if r["name"] == active)


def test_migrate_between_azure_apps_and_every_provider(tmp_path, session, azure_apps_environment, cloud,  # noqa: F811
                                                       aws_emulation, registry, local_cleanup):
    env, name = azure_apps_environment, unique("m")
    local_cleanup.append(name)
    aws = aws_emulation
    targets = {"dev": {"provider": "local"}, "aca": apps_target(env, registry), "gcp": gcp_target(cloud, registry),
               "azure": azure_target(env.azure, registry, token_env=TOKEN_ENV),
               "aws": {"provider": "aws", "endpoint_url": aws.endpoint_url, "region": aws.region,
                       "registry": f"{aws.registry}/modelport"}}
    # 1 vCPU / 2 GiB: a size Fargate, Cloud Run, ACI and a Container Apps pair all run as is
    project = one_instance_project(tmp_path / "v1", "1", name, targets, cpu=1, memory="2Gi")
    digest = mp.deploy(project, "dev", session=session).outputs["image"]["digest"]
    try:
        for source, dest in zip(CHAIN, CHAIN[1:]):
            moved = mp.migrate(name, source, dest, retire_source=True, session=session)
            assert moved.status == "succeeded", f"{source} -> {dest}: {moved.status}"
            assert moved.outputs["image"]["digest"] == digest, f"{source} -> {dest}: another image"
            assert _serving_digest(name, dest, session) == digest, f"{dest} runs another digest"
            assert version_of(mp.predict(name, dest, SAMPLE, session=session)) == "1", f"{dest} does not serve v1"
            assert [r["target"] for r in mp.status(session=session)] == [dest], f"{source} not retired"
            if dest == "aca":
                assert split(env, name) == {moved.revision: 100}
    finally:
        for target in targets:
            try:
                mp.destroy(name, target, session=session)
            except Exception:  # noqa: BLE001 - not deployed there
                pass
