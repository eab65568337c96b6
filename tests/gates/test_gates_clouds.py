"""A canary on AWS (ECS + ALB emulation) and GCP (Cloud Run emulator) is analysed at each step's
traffic share: the gate's load goes through the deployment's endpoint, and only the answers of the
new version (and every failure) count for it. (A slow version rolled back by analysis on every
provider is the conformance clause ``test_analysis_rolls_back_a_slow_version``.)"""

from __future__ import annotations

import uuid

import pytest

import modelport.api as mp
from modelport.engine.session import Session
from modelport.plugins import load_providers
from modelport.state import StateStore
from tests.providers.gcp.helpers import cloud, gcp_target  # noqa: F401  (the module's emulator)

from .gate_model import write_gate_project

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

ANALYSIS = """[rollout.analysis]
bake = 3
load = 10
max_error_rate = 0.05
max_p99_ms = 3000
"""


def _table(name: str, settings: dict) -> str:
    import json
    return "\n".join([f"[targets.{name}]", *(f"{k} = {json.dumps(v)}" for k, v in settings.items())]) + "\n"


def canary_is_analysed_at_each_share(tmp_path, target: str, settings: dict, name: str) -> None:
    session = Session(state=StateStore(tmp_path / "state.db"), providers=load_providers())
    table = _table(target, settings)
    v1 = write_gate_project(tmp_path / "v1", name, 1, table)
    try:
        mp.deploy(v1, target, session=session)
        v2 = write_gate_project(tmp_path / "v2", name, 2, table, gates=ANALYSIS)
        result = mp.swap(v2, target, strategy="canary", steps=[50, 100], session=session)
        assert result.status == "succeeded"
        runs = [e["data"] for e in session.state.events(name) if e["kind"] == "analysis"]
        assert len(runs) == 3, f"the revision gate and both canary steps bake: {runs}"
        own, half, full = runs
        assert "share" not in own and own["gate"]["requests"] > 0, runs
        assert half.get("share") == 0.5 and 0 < half["gate"]["requests"] < half["sent"], \
            f"at 50% the new revision answers a share of what the gate sent: {runs}"
        assert "share" not in full, runs
        assert all(r["gate"]["errors"] == 0 and r["metrics"]["requests"] > 0 for r in runs), runs
    finally:
        mp.destroy(name, target, spec=v1, session=session)


def test_gcp_canary_is_analysed_at_each_share(tmp_path, cloud, registry, modelport_home):  # noqa: F811
    canary_is_analysed_at_each_share(tmp_path, "gcp", gcp_target(cloud, registry), f"g{uuid.uuid4().hex[:7]}")


def test_aws_canary_is_analysed_at_each_share(tmp_path, aws_emulation, modelport_home):
    aws = aws_emulation
    settings = {"endpoint_url": aws.endpoint_url, "region": aws.region, "registry": f"{aws.registry}/modelport",
                "deregistration_delay": 5}
    canary_is_analysed_at_each_share(tmp_path, "aws", {"provider": "aws", **settings}, f"gates-{uuid.uuid4().hex[:6]}")
