"""Every operation on the local provider SIGKILLed at journal steps: before each step
(every step of a blue-green swap, every other step of the others) and after a step's work but before its journal write (blue-green swap). The next command names the interrupted operation, ``resume`` or ``abort``
(alternately) completes or rolls it back, the expected version answers, state and the engine
agree, nothing is orphaned and no lock is left; a blue-green swap also with the state on
PostgreSQL, S3 and Azure Blob. ``benchmarks/crashes.py`` runs every mode of every operation with
both resolutions."""

from __future__ import annotations

import pytest

from .harness import Case, sweep

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]


# CI: every point of a blue-green swap in both modes, every other step of the rest (the full
# matrix, every point of every operation both ways, is benchmarks/crashes.py)
@pytest.mark.parametrize("kind, modes, stride", [("deploy", ("before",), 2), ("swap:all-at-once", ("before",), 2),
                                                 ("swap:blue-green", ("before", "after"), 1),
                                                 ("migrate", ("before",), 2)])
def test_killed_at_every_step_is_resumed_or_aborted(local_runner, kind, modes, stride):
    case = Case(local_runner, kind)
    try:
        points = sweep(case, modes=modes, stride=stride)
    finally:
        case.clean()
    failed = [p.to_dict() for p in points if not p.ok]
    assert not failed, failed
    # every stride-th step was reached in each mode (before: also after the last one), both resolutions ran
    for mode in modes:
        indexes = [p.index for p in points if p.mode == mode]
        assert indexes == list(range(0, stride * len(indexes), stride)) and len(indexes) >= 2, (mode, indexes)
    assert {p.resolution for p in points} == {"resume", "abort"}


# the same guarantees with the state in a shared backend: a blue-green swap killed before every
# third step (resume and abort alternately), each point checked as above
@pytest.mark.parametrize("local_runner", ["postgresql", "s3", "azblob"], indirect=True)
def test_killed_swap_with_shared_state_is_resumed_or_aborted(local_runner):
    case = Case(local_runner, "swap:blue-green")
    try:
        points = sweep(case, modes=("before",), stride=3)
    finally:
        case.clean()
    failed = [p.to_dict() for p in points if not p.ok]
    assert not failed, failed
    assert [p.index for p in points] == list(range(0, 3 * len(points), 3)) and len(points) >= 2
    assert {p.resolution for p in points} == {"resume", "abort"}
