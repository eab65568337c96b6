"""``--timings``: each phase's duration (build, export, push/copy, create, ready, gates, traffic)
added up from the operation's own step events, printed and carried in the JSON output."""

from __future__ import annotations

import json

import modelport.api as mp
from modelport.engine.events import BuildFinished
from modelport.engine.timings import Timings

from tests.engine.conftest import image, loaded, write_spec


def test_phases_add_up_the_steps_of_a_canary_swap(memory, tmp_path):
    provider, session = memory
    mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "mem", image("1"), session=session)
    seen: list = []
    session.on_event = seen.append
    timings = Timings.attach(session)
    mp.deploy_image(loaded(write_spec(tmp_path / "v2", "2")), "mem", image("2"), strategy="canary",
                    steps=[50, 100], session=session, kind="swap")
    steps = [e for e in seen if e.type == "step.finished"]
    assert steps, "the events still reach the session's own sink"
    data = timings.to_dict()
    assert {"create", "gates", "traffic"} <= set(data["phases"])
    assert [s["step"] for s in data["steps"]] == [e.step for e in steps]
    traffic = sum(e.duration for e in steps if e.step == "set_traffic")
    assert abs(data["phases"]["traffic"] - traffic) < 0.002
    assert abs(data["total"] - sum(e.duration for e in steps)) < 0.01
    assert list(data["phases"]) == [p for p in ("build", "export", "push", "copy", "create", "ready", "gates",
                                                "traffic", "other") if p in data["phases"]]


def test_a_build_is_split_into_build_and_export():
    timings = Timings(lambda _ev: None)
    timings(BuildFinished(digest="sha256:" + "0" * 64, image_id="sha256:" + "1" * 64, duration=5.0, export=3.5))
    assert timings.to_dict()["phases"] == {"build": 1.5, "export": 3.5}


def test_migrate_prints_timings_and_json_carries_them(memory, cli, tmp_path):
    provider, session = memory
    spec = write_spec(tmp_path / "v1", "1")
    mp.deploy_image(loaded(spec), "mem", image("1"), session=session)
    code, out, err = cli("migrate", "demo", "--from", "mem", "--to", "other", "--spec", str(spec / "modelport.toml"),
                         "--retire-source", "--timings", "--output", "json", "--events", "none")
    assert code == 0, err
    timings = json.loads(out)["timings"]
    assert {"create", "gates", "traffic"} <= set(timings["phases"])
    assert all(s["duration"] >= 0 for s in timings["steps"]) and timings["total"] >= 0
    code, out, err = cli("migrate", "demo", "--from", "other", "--to", "mem", "--spec", str(spec / "modelport.toml"),
                         "--timings", "--events", "none")
    assert code == 0, err
    assert "timings (seconds):" in out and "  traffic " in out and "  total " in out
    code, out, err = cli("rollback", "demo", "--to", "mem", "--timings")
    assert code == 2 and "--timings" in (out + err), "only deploy, swap and migrate time their phases"
