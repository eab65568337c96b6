"""An operation killed after a step that cannot be undone (the source of a migration retired)
must not be aborted: abort refuses and says to resume, which finishes it; the deployment keeps
serving on the destination throughout."""

from __future__ import annotations

import json

import pytest

from modelport.state import StateStore

from .checks import check
from .harness import Case

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


def test_migration_killed_after_retiring_the_source_can_only_be_resumed(local_runner):
    case = Case(local_runner, "migrate")
    case.prepare()  # v1 serving on dev
    try:
        job = {**case.job(), "retire_source": True, "kill": "after", "at": "destroy"}
        assert local_runner.drive(job).returncode == -9
        op = StateStore(local_runner.state).unfinished(case.name)
        assert op is not None and op.plan[op.done]["op"] == "destroy"
        refused = local_runner.cli("abort", case.name)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        error = json.loads(refused.stdout)
        assert "cannot be rolled back" in error["message"] and f"modelport resume {case.name}" in error["hint"]
        # the refusal changed nothing: the destination still serves, the operation still waits
        assert check(local_runner.session(), case.name, case.specs[0], {"stage": "1"})[0].startswith("operations still running")
        resumed = local_runner.cli("resume", case.name)
        assert resumed.returncode == 0, resumed.stderr
        assert check(local_runner.session(), case.name, case.specs[0], {"stage": "1", "dev": None}) == []
    finally:
        case.clean()
