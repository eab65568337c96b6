"""A blue-green swap on each emulated cloud SIGKILLed before every third journal step (indexes
0, 3, 6, ...; resume and abort alternately): the next command names the interrupted operation,
``resume``/``abort`` complete or roll it back with the expected version serving, state and cloud
agreeing and nothing orphaned. The full matrix (every operation, every point, both
resolutions) is ``benchmarks/crashes.py``."""

from __future__ import annotations

import pytest

from .harness import Case, Runner, sweep

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure", "azure-apps"], indirect=True)
def test_killed_swap_on_a_cloud_is_resumed_or_aborted(cloud, tmp_path):
    case = Case(Runner(cloud, tmp_path), "swap:blue-green")
    try:
        points = sweep(case, modes=("before",), stride=3)
    finally:
        case.clean()
    failed = [p.to_dict() for p in points if not p.ok]
    assert not failed, failed
    assert [p.index for p in points] == list(range(0, 3 * len(points), 3)) and len(points) >= 2
    assert {p.resolution for p in points} == {"resume", "abort"}
