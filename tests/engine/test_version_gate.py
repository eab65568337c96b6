"""The endpoint gate checks which model version answers: a traffic move the provider reports but
the endpoint does not show (a no-op ``set_traffic``, a change not propagated yet) fails the
operation and undoes it, naming the version that answered; a late but real change is waited for."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from click.testing import CliRunner

import modelport.api as mp
from modelport.cli import main
from modelport.engine import versions
from modelport.errors import HealthGateFailed
from modelport.plugins import load_providers
from modelport.testing.memory import MemoryPlugin, MemoryProvider

from .conftest import image, loaded, memory_session, write_spec


class LostMove(MemoryProvider):
    """Reports every traffic move as done but applies only the first one (a silently lost move)."""

    def set_traffic(self, target, deployment, weights):
        if not self.traffic_log:
            super().set_traffic(target, deployment, weights)
        else:
            self.traffic_log.append({"ignored": 1})


class AllOrNothing(MemoryProvider):
    """Cannot really split: every move sends all traffic to the heaviest revision."""

    def set_traffic(self, target, deployment, weights):
        top = max(weights, key=weights.get)
        super().set_traffic(target, deployment, {top: 100})


class Slow(MemoryProvider):
    """Applies each traffic move ``delay`` seconds after reporting it (propagation on a real cloud)."""

    delay = 1.0

    def set_traffic(self, target, deployment, weights):
        if not self.traffic_log:
            return super().set_traffic(target, deployment, weights)
        threading.Timer(self.delay, super().set_traffic, (target, deployment, weights)).start()


def _v1(session, tmp_path):
    return mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "mem", image("1"), session=session)


def _swap(session, tmp_path, strategy, steps=None):
    return mp.deploy_image(loaded(write_spec(tmp_path / "v2", "2")), "mem", image("2"), strategy=strategy,
                           steps=steps, session=session)


@pytest.mark.parametrize("strategy", ["all-at-once", "blue-green", "canary"])
def test_a_lost_traffic_move_fails_the_swap_naming_the_answering_version(tmp_path, strategy):
    provider = LostMove()
    with memory_session(tmp_path, provider) as session:
        _v1(session, tmp_path)
        with pytest.raises(HealthGateFailed) as caught:
            _swap(session, tmp_path, strategy, [50, 100])
        message = str(caught.value)
        assert "version 1 answered" in message and "version 2" in message, message
        assert "rolled back" in message and caught.value.exit_code == 1  # `modelport swap` exits 1
        assert provider.traffic["mem/demo"] == {"r1": 100} and set(provider.revisions["mem/demo"]) == {"r1"}
        assert session.state.deployments("demo", "mem")[0]["revision"] == "r1"


def test_a_canary_step_needs_both_versions_in_proportion(tmp_path):
    provider = AllOrNothing()
    with memory_session(tmp_path, provider) as session:
        _v1(session, tmp_path)
        with pytest.raises(HealthGateFailed, match=r"version 1 answered \d+ of \d+ requests \(expected version 1 90%, "
                                                   r"version 2 10%\)"):
            _swap(session, tmp_path, "canary", [10, 100])
        assert provider.traffic["mem/demo"] == {"r1": 100}


def test_the_gate_waits_for_a_traffic_move_to_propagate(tmp_path):
    provider = Slow()
    with memory_session(tmp_path, provider) as session:
        _v1(session, tmp_path)
        result = _swap(session, tmp_path, "canary", [50, 100])
        assert result.status == "succeeded" and provider.traffic["mem/demo"] == {"r2": 100}


def test_rollback_is_gated_by_version_too(tmp_path):
    state = tmp_path / "state.db"
    provider = MemoryProvider()
    with memory_session(tmp_path, provider) as session:
        _v1(session, tmp_path)
        _swap(session, tmp_path, "blue-green")
        before = len(provider.traffic_log)
        # from now on traffic moves are lost: the rollback must not report success
        provider.set_traffic = lambda target, deployment, weights: provider.traffic_log.append(dict(weights))
        import modelport.plugins as plugins
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(plugins, "_default", load_providers({"acme": MemoryPlugin(provider)}, use_entry_points=False))
            result = CliRunner().invoke(main, ["--state", str(state), "rollback", "demo", "--to", "mem",
                                               "--gate-timeout", "2", "-o", "json"])
        assert result.exit_code == 1, result.output
        error = json.loads(result.stdout)
        assert error["error"] == "HealthGateFailed" and "version 2 answered" in error["message"], error
        assert provider.traffic_log[before:] == [{"r1": 100}, {"r2": 100}]  # moved back by the undo
        assert session.state.deployments("demo", "mem")[0]["revision"] == "r2"


def test_migrate_gates_the_destination_by_version(tmp_path):
    provider = MemoryProvider()
    with memory_session(tmp_path, provider) as session:
        _v1(session, tmp_path)
        result = mp.migrate("demo", "mem", "other", spec=tmp_path / "v1", session=session)
        assert result.status == "succeeded"
        gates = [s for s in result.plan.steps if s.op == "gate" and s.target == "other" and s.weights]
        assert gates and gates[-1].weights == {result.revision: 100}, result.plan.steps


# -- the pure parts: which version answered, and does it match the split ----------------------

def test_answered_version_reads_infer_and_metadata_replies():
    assert versions.answered_version({"model_name": "m", "model_version": "2.0.0", "outputs": []}) == "2.0.0"
    assert versions.answered_version({"name": "m", "versions": ["3"]}) == "3"
    assert versions.answered_version({"outputs": []}) is None


def test_expected_shares_pool_revisions_by_version():
    shares = versions.expected_shares({"r1": 40, "r2": 50, "r3": 10, "r4": 0}, {"r1": "1", "r2": "2", "r3": "2"})
    assert shares == {"1": 0.4, "2": 0.6}
    assert versions.expected_shares({"r1": 90, "r9": 10}, {"r1": "1"}) == {"1": 0.9, versions.UNKNOWN: 0.1}


@pytest.mark.parametrize("counts,shares,problem", [
    ({"2": 10}, {"2": 1.0}, None),
    ({"1": 1, "2": 9}, {"2": 1.0}, "version 1 answered 1 of 10 requests, which the traffic split gives no traffic"),
    ({"1": 27, "2": 3}, {"1": 0.9, "2": 0.1}, None),
    ({"1": 30}, {"1": 0.9, "2": 0.1}, "version 1 answered 30 of 30 requests (expected version 1 90%, version 2 10%)"),
    ({"1": 5, "2": 5}, {"1": 0.9, "2": 0.1}, "version 1 answered 5 of 10"),
    ({"1": 9, "7": 1}, {"1": 0.9, versions.UNKNOWN: 0.1}, None),
])
def test_split_problem(counts, shares, problem):
    found = versions.split_problem(Counter(counts), shares)
    assert (found is None) if problem is None else (found is not None and found.startswith(problem)), found


def test_one_round_asks_enough_for_the_smallest_share():
    assert versions.requests_for({"2": 1.0}) == versions.MIN_REQUESTS
    assert versions.requests_for({"1": 0.9, "2": 0.1}) == 30
    assert versions.requests_for({"1": 0.99, "2": 0.01}) == versions.MAX_REQUESTS


def test_a_reply_without_a_version_fails_the_gate_clearly():
    with pytest.raises(HealthGateFailed, match="names no model_version"):
        versions.sample(lambda: {"outputs": []}, 3, "mem endpoint")
