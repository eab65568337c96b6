"""Every operation on the local provider SIGKILLed at every journal step, before the step and
after its work but before its journal write: the next command names the interrupted operation,
``resume`` or ``abort`` (alternately) completes or rolls it back, the expected version answers,
state and the engine agree, nothing is orphaned and no lock is left."""

from __future__ import annotations

import pytest

from .harness import Case, sweep

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.mark.parametrize("kind", ["deploy", "swap:all-at-once", "swap:blue-green", "migrate"])
def test_killed_at_every_step_is_resumed_or_aborted(local_runner, kind):
    case = Case(local_runner, kind)
    try:
        points = sweep(case, modes=("before", "after"))
    finally:
        case.clean()
    failed = [p.to_dict() for p in points if not p.ok]
    assert not failed, failed
    # the sweep reached every step in both modes, and both resolutions were exercised
    before = [p.index for p in points if p.mode == "before"]
    after = [p.index for p in points if p.mode == "after"]
    assert before == list(range(len(before))) and after == list(range(len(after)))
    assert len(before) == len(after) + 1 >= 4, (before, after)
    assert {p.resolution for p in points} == {"resume", "abort"}
