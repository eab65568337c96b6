"""``modelport plan --for KIND`` for every operation, and ``--detailed-exitcode`` (0 nothing to
change, 10 changes pending, errors keep their codes). Plans are read-only: nothing is journaled."""

from __future__ import annotations

import json

import modelport.api as mp

from tests.engine.conftest import image, loaded, write_spec
from tests.engine.test_journal import _swap_to_v2

from .conftest import journal_killed


def test_plans_for_promote_rollback_migrate_destroy(memory, tmp_path, cli):
    provider, session = memory
    v1 = write_spec(tmp_path / "v1", "1")
    mp.deploy_image(loaded(v1), "mem", image("1"), session=session)
    mp.deploy_image(loaded(write_spec(tmp_path / "v2", "2")), "mem", image("2"), session=session)
    writes, ops = list(provider.writes), len(session.state.operations("demo"))

    code, out, err = cli("plan", "--for", "promote", "--name", "demo", "--from", "mem", "--to", "other",
                         "--detailed-exitcode", "-o", "json")
    assert code == 10, err
    planned = json.loads(out)
    assert planned["kind"] == "promote" and planned["changes"] > 0
    assert any(s["op"] == "create_revision" and s["revision_spec"]["image"]["digest"] == image("2").digest
               for s in planned["steps"])
    assert any(d.startswith("create revision") for d in planned["abort_would_undo"])

    code, out, err = cli("plan", "--for", "rollback", "--name", "demo", "--to", "mem", "-o", "json")
    assert code == 0, err
    assert any(s["op"] == "set_traffic" and s["weights"] == {"r1": 100} for s in json.loads(out)["steps"])
    code, out, err = cli("plan", "--for", "migrate", "--name", "demo", "--from", "mem", "--to", "other", "-o", "json")
    assert code == 0 and json.loads(out)["kind"] == "migrate", err
    code, out, err = cli("plan", "--for", "destroy", "--name", "demo", "--to", "mem", "--detailed-exitcode")
    assert code == 10 and "destroy demo -> mem" in out, err
    code, out, err = cli("plan", "--for", "destroy", "--name", "demo", "--to", "other", "--detailed-exitcode")
    assert code == 2 and "no deployment 'demo' on 'other'" in err  # nothing recorded there: bad input
    code, out, err = cli("plan", str(v1), "--for", "destroy", "--to", "other", "--detailed-exitcode")
    assert code == 0 and "no changes" in out, err  # with the spec named: nothing there to destroy
    code, out, err = cli("plan", "--for", "rollback", "--name", "demo", "--detailed-exitcode", "-o", "json")
    assert code == 2 and "--to" in json.loads(out)["message"]
    assert provider.writes == writes and len(session.state.operations("demo")) == ops


def test_plans_for_resume_and_abort_of_an_interrupted_swap(memory, tmp_path, cli):
    provider, session = memory
    mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "mem", image("1"), session=session)
    steps, context = _swap_to_v2(write_spec(tmp_path / "v2", "2") / "modelport.toml")
    journal_killed(session.state.path, "swap", steps, context, done=3)
    code, out, err = cli("plan", "--for", "resume", "--name", "demo", "-o", "json")
    assert code == 0, err
    assert [s["op"] for s in json.loads(out)["steps"]] == ["gate", "record"]
    code, out, err = cli("plan", "--for", "abort", "--name", "demo", "--detailed-exitcode", "-o", "json")
    assert code == 10, err
    assert [s["op"] for s in json.loads(out)["steps"]] == ["set_traffic", "create_revision"]
    assert session.state.unfinished("demo") is not None  # planning settled nothing


def test_history_for_machines_has_durations_filters_and_no_json_text(memory, tmp_path, cli):
    provider, session = memory
    mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "mem", image("1"), session=session)
    second = mp.deploy_image(loaded(write_spec(tmp_path / "v2", "2")), "other", image("2"), session=session)
    code, out, err = cli("history", "demo", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert all(isinstance(r["spec"], dict) for r in data["revisions"])  # data, not JSON text
    op = data["operations"][-1]
    assert op["duration"] >= 0 and op["step_durations"]
    assert all(s["duration"] >= 0 and isinstance(s["index"], int) for s in op["step_durations"])
    code, out, err = cli("history", "demo", "--operation", str(second.operation), "-o", "json")
    only = json.loads(out)
    assert [o["id"] for o in only["operations"]] == [second.operation]
    assert {e["operation"] for e in only["events"]} == {second.operation}
    code, out, err = cli("history", "demo", "--to", "mem", "-o", "json")
    assert {t for o in json.loads(out)["operations"] for t in o["targets"]} == {"mem"}
    code, out, err = cli("history", "demo", "--since", "2999-01-01T00:00:00Z", "-o", "json")
    assert json.loads(out)["operations"] == [] and json.loads(out)["events"] == []
    code, out, err = cli("history", "demo", "--since", "yesterday", "-o", "json")
    assert code == 2 and "--since" in json.loads(out)["message"]
