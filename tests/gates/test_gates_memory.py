"""Analysis and validation gates on the in-memory provider: a slow version and one that fails a
share of requests are rolled back by analysis, a wrong model is refused by validation before any
traffic moves, a good one passes; in each failure the previous version serves."""

from __future__ import annotations

import json

import httpx
import pytest

import modelport.api as mp
from modelport.engine import planner
from modelport.errors import HealthGateFailed

from tests.engine.conftest import SAMPLE, image, loaded, write_spec

from .conftest import gated_spec

FAIL_FAST = "bake = 20\nload = 10\nmax_error_rate = 0.05\nmax_p99_ms = 150"


def answer(endpoint: str) -> str:
    return httpx.post(f"{endpoint}/v2/models/demo/infer", json=SAMPLE, timeout=5).json()["outputs"][0]["data"][0]


def deploy(session, folder, version, strategy=None, steps=None):
    return mp.deploy_image(loaded(folder), "mem", image(version), strategy=strategy, steps=steps, session=session)


def history(session, kind):
    return [e for e in session.state.events("demo") if e["kind"] == kind]


def assert_v1_serves(provider):
    assert provider.traffic["mem/demo"] == {"r1": 100}
    assert set(provider.revisions["mem/demo"]) == {"r1"}, "the refused revision must be removed"
    assert answer(provider.routers["mem/demo"].url) == "1"


@pytest.mark.parametrize("strategy,broken,breach", [("blue-green", "slow", "p99"),
                                                    ("canary", "errors", "error rate")])
def test_analysis_rolls_back_a_bad_version_at_once(memory, tmp_path, strategy, broken, breach):
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    bad = gated_spec(tmp_path / "v2", "2", analysis=FAIL_FAST, env=broken)
    with pytest.raises(HealthGateFailed) as caught:
        deploy(session, bad, "2", strategy, [50, 100])
    err = caught.value.to_dict()
    assert err["check"] == "analysis" and breach in err["actual"]["breach"], err
    assert err["expected"] == {"max_error_rate": 0.05, "max_p99_ms": 150.0}
    assert err["actual"]["window_s"] < 20, "a certain breach fails the gate before the bake ends"
    assert err["undone"] is True and err["exit_code"] == 1
    assert_v1_serves(provider)
    [journaled] = history(session, "analysis")
    assert journaled["data"]["breach"] == err["actual"]["breach"]
    assert journaled["operation"] == err["operation"], "the figures belong to the failed operation's history"
    assert journaled in mp.history("demo", session=session, operation=err["operation"])["events"]
    assert journaled["data"]["gate"]["requests"] >= 1


def test_a_canary_step_is_analysed_at_its_share(memory, tmp_path):
    """Through the split only the new version's answers count for it (and every failure)."""
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    good = gated_spec(tmp_path / "v2", "2", analysis="bake = 1.5\nload = 20\nmax_p99_ms = 250")
    events = []
    session.on_event = events.append
    result = deploy(session, good, "2", "canary", [50, 100])
    assert result.status == "succeeded" and answer(result.endpoint) == "2"
    runs = [e["data"] for e in history(session, "analysis")]
    assert len(runs) == 3, "the revision gate and both canary steps bake"
    at_half = runs[1]["gate"]["requests"]
    assert 0 < at_half < runs[2]["gate"]["requests"], f"at 50% the revision answers about half: {runs}"
    live = [e for e in events if e.type == "gate.progress"]
    assert live and all(e.revision == "r2" for e in live)
    assert "requests" in live[-1].text() and "left" in live[-1].text()


def test_good_version_passes_with_ratio_to_the_serving_one(memory, tmp_path):
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    good = gated_spec(tmp_path / "v2", "2", analysis="bake = 1.5\nload = 10\nmax_p99_ms = 250\nmax_p99_ratio = 50")
    result = deploy(session, good, "2", "blue-green")
    assert result.status == "succeeded" and answer(result.endpoint) == "2"
    figures = history(session, "analysis")[0]["data"]
    assert figures["baseline"]["revision"] == "r1" and figures["p99_ratio"] > 0
    assert figures["gate"]["errors"] == 0 and figures["metrics"] is None  # the memory runtime has no /metrics


def test_slow_version_fails_the_ratio(memory, tmp_path):
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    slow = gated_spec(tmp_path / "v2", "2", analysis="bake = 1.5\nload = 10\nmax_p99_ratio = 3", env="slow")
    with pytest.raises(HealthGateFailed, match="max_p99_ratio"):
        deploy(session, slow, "2", "blue-green")
    assert_v1_serves(provider)


def test_validation_refuses_a_wrong_model_before_traffic_moves(memory, tmp_path):
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    provider.traffic_log.clear()
    wrong = gated_spec(tmp_path / "v3", "3", validation="min_accuracy = 0.9", dataset_version="2")
    with pytest.raises(HealthGateFailed) as caught:
        deploy(session, wrong, "3", "canary", [50, 100])
    err = caught.value.to_dict()
    assert err["check"] == "validation" and err["actual"]["accuracy"] == 0.0 and err["actual"]["rows"] == 4
    assert err["expected"] == {"min_accuracy": 0.9}
    assert "min_accuracy" in err["message"]
    assert provider.traffic_log == [], "no traffic may move before validation passes"
    assert_v1_serves(provider)
    assert history(session, "validation")[0]["data"]["accuracy"] == 0.0


def test_validation_passes_a_right_model_and_measures_agreement(memory, tmp_path):
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    right = gated_spec(tmp_path / "v2", "2", validation="min_accuracy = 0.9\nmin_agreement = 0.0")
    result = deploy(session, right, "2", "blue-green")
    assert result.status == "succeeded" and answer(result.endpoint) == "2"
    figures = history(session, "validation")[0]["data"]
    assert figures["accuracy"] == 1.0 and figures["agreement"] == 0.0 and figures["serving"] == "r1"


def test_validation_refuses_disagreement_with_the_serving_version(memory, tmp_path):
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    other = gated_spec(tmp_path / "v2", "2", validation="min_agreement = 0.95")
    with pytest.raises(HealthGateFailed, match="agreement with the serving version 0.00% is below"):
        deploy(session, other, "2", "all-at-once")
    assert_v1_serves(provider)


def test_plans_place_the_gates(memory, tmp_path):
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    both = gated_spec(tmp_path / "v2", "2", analysis="bake = 5\nload = 2", validation="min_accuracy = 1")
    plan = planner.deploy(session, loaded(both), "mem", image("2"), strategy="canary", steps=[50, 100])
    ops = [s.op for s in plan.steps]
    assert ops.index("validate") < ops.index("set_traffic")
    assert all(s.analyse for s in plan.steps if s.op == "gate")
    plain = planner.deploy(session, loaded(write_spec(tmp_path / "v2b", "2")), "mem", image("2"))
    assert "validate" not in [s.op for s in plain.steps]
    assert all("analyse" not in s.to_dict() for s in plain.steps), "journals without analysis keep their text"
