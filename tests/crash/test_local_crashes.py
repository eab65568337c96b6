"""Every operation on the local provider SIGKILLed at every journal step: before each step
(every operation) and after a step's work but before its journal write (blue-green swap). The next command names the interrupted operation, ``resume`` or ``abort``
(alternately) completes or rolls it back, the expected version answers, state and the engine
agree, nothing is orphaned and no lock is left. ``benchmarks/crashes.py`` runs every mode of
every operation with both resolutions."""

from __future__ import annotations

import pytest

from .harness import Case, sweep

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.mark.parametrize("kind, modes", [("deploy", ("before",)), ("swap:all-at-once", ("before",)),
                                         ("swap:blue-green", ("before", "after")), ("migrate", ("before",))])
def test_killed_at_every_step_is_resumed_or_aborted(local_runner, kind, modes):
    case = Case(local_runner, kind)
    try:
        points = sweep(case, modes=modes)
    finally:
        case.clean()
    failed = [p.to_dict() for p in points if not p.ok]
    assert not failed, failed
    # every step was reached in each mode (before: also after the last one), both resolutions ran
    for mode in modes:
        indexes = [p.index for p in points if p.mode == mode]
        assert indexes == list(range(len(indexes))) and len(indexes) >= 4, (mode, indexes)
    assert {p.resolution for p in points} == {"resume", "abort"}
