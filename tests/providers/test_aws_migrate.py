"""Migrate between the local Docker engine and AWS, both ways: the same image digest serves on
the other side, verified by predictions through each side's endpoint."""

from __future__ import annotations

import pytest

import modelport.api as mp
from modelport.errors import NotFound
from tests.providers.aws.helpers import predict, session, tagged, unique, write_spec

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


def _active(row: dict) -> dict:
    name = max(row["traffic"].items(), key=lambda kv: kv[1])[0]
    return next(r for r in row["revisions"] if r["name"] == name)


def test_migrate_local_to_aws_and_back(aws_emulation, tmp_path, modelport_home):
    aws, name = aws_emulation, unique("mig")
    settings = {"endpoint_url": aws.endpoint_url, "region": aws.region, "registry": f"{aws.registry}/modelport"}
    spec = write_spec(tmp_path / "spec", name, "v1", settings)
    s = session(tmp_path / "state.sqlite")
    try:
        local = mp.deploy(spec, "dev", session=s)
        assert predict(local.endpoint) == "v1"
        digest = local.outputs["image"]["digest"]

        there = mp.migrate(name, "dev", "aws", retire_source=True, session=s)
        assert there.endpoint.startswith(f"http://mp-{name}") and predict(there.endpoint) == "v1"
        on_aws = mp.status(name, "aws", session=s)[0]
        assert _active(on_aws)["digest"] == digest and on_aws["traffic"] == {"r1": 100}
        with pytest.raises(NotFound):  # retired and forgotten on the source
            mp.status(name, "dev", session=s)

        back = mp.migrate(name, "aws", "dev", session=s)
        assert back.endpoint.startswith("http://127.") and predict(back.endpoint) == "v1"
        assert _active(mp.status(name, "dev", session=s)[0])["digest"] == digest
        assert predict(mp.status(name, "aws", session=s)[0]["endpoint"]) == "v1"  # source kept serving
    finally:
        for target in ("aws", "dev"):
            try:
                mp.destroy(name, target, spec=spec, session=s)
            except Exception:  # noqa: BLE001 - one side may hold nothing
                pass
    assert tagged(aws, name) == []
