"""The release gates end to end on the local provider (real images on the real Docker engine):
a good version passes validation and analysis, a slow one and one that fails a share of its
requests are rolled back by analysis (read from the gate's requests and the revision's own
/metrics), a wrong model is refused by validation before any traffic moves, and
in each failure the previous version keeps serving; ``evaluate --against`` finds no difference
between two targets serving the same digest."""

from __future__ import annotations

import httpx
import pytest

import modelport.api as mp
from modelport.engine.session import Session
from modelport.errors import HealthGateFailed
from modelport.state import StateStore
from tests.environment import modelport_home_at

from .gate_model import GATES, ROWS, write_gate_project

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

LOCAL = '[targets.dev]\nprovider = "local"\n\n[targets.staging]\nprovider = "local"\n'


@pytest.fixture(scope="module", autouse=True)
def modelport_home(tmp_path_factory):
    with modelport_home_at(tmp_path_factory.mktemp("mphome")) as home:
        yield home


def served(endpoint: str) -> str:
    reply = httpx.post(f"{endpoint}/v2/models/gatemodel/infer", timeout=30,
                       json={"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP64", "data": [ROWS[0]]}]})
    return reply.json()["model_version"]


def swap_fails(project, session, strategy):
    with pytest.raises(HealthGateFailed) as caught:
        mp.swap(project, "dev", strategy=strategy, session=session)
    return caught.value.to_dict()


def assert_v1_still_serves(name, session, endpoint):
    [status] = mp.status(name, session=session)
    assert status["traffic"] == {"r1": 100}
    assert [r["name"] for r in status["revisions"]] == ["r1"], "the refused revision must be removed"
    assert served(endpoint) == "1.0.0"


def test_gates_pass_a_good_version_and_refuse_bad_ones(tmp_path, docker_host, base_image, unique_name,
                                                       local_cleanup):
    local_cleanup.append(unique_name)
    session = Session(state=StateStore(tmp_path / "state.db"))
    events = []
    session.on_event = events.append

    def project(version, **how):
        return write_gate_project(tmp_path / f"v{version}", unique_name, version, LOCAL, gates=GATES, **how)

    first = mp.deploy(project(1), "dev", session=session)
    assert first.status == "succeeded" and served(first.endpoint) == "1.0.0"
    assert any(e.type == "gate.progress" for e in events), "a baking gate shows a live line"

    slow = swap_fails(project(2, sleep=0.3), session, "blue-green")
    assert slow["check"] == "analysis" and "max_p99_ms" in slow["actual"]["breach"], slow
    assert_v1_still_serves(unique_name, session, first.endpoint)

    erring = swap_fails(project(3, fail_every=4), session, "blue-green")
    assert erring["check"] == "analysis" and "error" in erring["actual"]["breach"], erring
    assert erring["actual"]["metrics"] is not None, "the revision's /metrics were read"
    assert_v1_still_serves(unique_name, session, first.endpoint)

    moved = []
    session.before_step = lambda _i, step: step.op == "set_traffic" and moved.append(step.weights)
    wrong = swap_fails(project(4, threshold=-100.0), session, "blue-green")
    assert wrong["check"] == "validation" and wrong["actual"]["accuracy"] < 0.7, wrong
    assert moved == [], "validation refuses before any traffic moves"
    assert_v1_still_serves(unique_name, session, first.endpoint)
    session.before_step = None

    good = mp.swap(project(5), "dev", strategy="blue-green", session=session)
    assert good.status == "succeeded" and served(good.endpoint) == "5.0.0"
    runs = [e["data"] for e in session.state.events(unique_name) if e["kind"] == "analysis"]
    passed = [r for r in runs[-2:] if not r.get("breach")]  # blue-green: the revision gate, the endpoint gate
    assert len(passed) == 2 and all(r["metrics"]["requests"] > 0 for r in passed), runs[-2:]

    # the same digest on a second engine target gives the same outputs for every row
    mp.promote(unique_name, "dev", "staging", session=session)
    same = mp.evaluate(project(5), "dev", against="staging", session=session)
    assert same["passed"] and same["accuracy"] == 1.0 and same["against"]["digest"] == same["digest"]
    assert same["against"]["max_abs_difference"] == 0.0 and same["against"]["identical_rows"] == 8, same
    mp.destroy(unique_name, "staging", session=session)
    mp.destroy(unique_name, "dev", session=session)
