"""Container Apps sizes (pure): the shipped table is LIMITS.md's Consumption pair table, check_size
refuses everything else naming the field, fit_size picks the smallest pair holding the size."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelport.errors import SpecError
from modelport.provider import Size
from modelport_providers.azure_apps import sizes

LIMITS_MD = Path("/work/shared/reference/azure-apps/LIMITS.md")


def _documented() -> dict[tuple[float, int], tuple[bool, bool]]:
    """(cpu, MiB) -> (Consumption plan, Consumption workload profile) from LIMITS.md §1."""
    rows = re.findall(r"^\| ([\d.]+) \| ([\d.]+)Gi \| (yes|no) \| (yes|no) \|$", LIMITS_MD.read_text(), re.M)
    return {(float(c), int(float(m) * 1024)): (plan == "yes", profile == "yes") for c, m, plan, profile in rows}


@pytest.mark.skipif(not LIMITS_MD.is_file(), reason="the shared reference is not on this machine")
def test_pairs_are_the_documented_table():
    documented = _documented()
    assert len(documented) == 16
    assert set(sizes.pairs(False)) == {k for k, (plan, _) in documented.items() if plan}
    assert set(sizes.pairs(True)) == {k for k, (_, profile) in documented.items() if profile}


@pytest.mark.parametrize("size, field", [
    (Size(0.5, 2048), "resources.memory"),   # not a pair
    (Size(2.5, 5120), "resources.cpu"),      # above the Consumption plan
    (Size(0.3, 614), "resources.memory"),    # not a 0.25 step
    (Size(1, 2048, gpu=1, gpu_type="nvidia-t4"), "resources.gpu"),
])
def test_check_size_refuses_what_is_not_a_pair(size, field):
    with pytest.raises(SpecError) as caught:
        sizes.check_size(size)
    assert caught.value.field == field
    assert field == "resources.gpu" or "0.25/0.5Gi" in (caught.value.hint or ""), "the hint lists the pairs"


def test_check_size_accepts_every_pair_and_the_profile_maximum():
    for cpu, memory in sizes.pairs(False):
        sizes.check_size(Size(cpu, memory))
    sizes.check_size(Size(4, 8192), workload_profiles=True)


def test_fit_size_picks_the_smallest_pair_holding_the_size():
    assert sizes.fit_size(Size(1, 2048)) == (Size(1, 2048), [])
    fitted, notes = sizes.fit_size(Size(0.5, 2048))
    assert fitted == Size(1, 2048) and "2 GiB per vCPU" in notes[0]
    assert sizes.fit_size(Size(0.1, 256))[0] == Size(0.25, 512)
    assert sizes.fit_size(Size(3, 4096), workload_profiles=True)[0] == Size(3, 6144)
    with pytest.raises(SpecError):
        sizes.fit_size(Size(4, 16384), workload_profiles=True)
