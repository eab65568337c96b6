"""Cloud Run size rules of the gcp provider (pure: the shipped limits table, no cloud)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from modelport.errors import SpecError
from modelport.provider import Size
from modelport_providers.gcp.sizes import LIMITS_FILE, check_size, fit_size, load_limits

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "limits.toml"


# The shipped table departs from the reference only where the documentation disagrees with itself
# and the stricter reading is kept (the fractional-cpu memory tiers; see the comment in the table).
STRICTER_PARTS = {("cpu", "verified_on"), ("cpu", "notes"), ("memory", "verified_on"), ("memory", "sources")}


def test_the_shipped_table_is_the_reference_gcp_block_or_stricter():
    shipped = tomllib.loads(LIMITS_FILE.read_text())
    assert shipped["gcp"]["cloud_run"]["cpu"]["verified_on"]
    assert shipped["gcp"]["cloud_run"]["cpu"]["source"].startswith("https://cloud.google.com/run/")
    if not REFERENCE.is_file():  # the shared folder sits next to the checkout on dev machines and CI
        return
    reference = tomllib.loads(REFERENCE.read_text())
    ours, theirs = shipped["gcp"]["cloud_run"], reference["gcp"]["cloud_run"]
    assert set(ours) == set(theirs)
    for block in ours:
        if block == "cpu_memory_table":
            continue
        for key in set(ours[block]) | set(theirs[block]):
            if (block, key) not in STRICTER_PARTS:
                assert ours[block].get(key) == theirs[block].get(key), (block, key)
    # whole-cpu rows are the reference's rows, verbatim
    assert [r for r in ours["cpu_memory_table"] if r["cpu"] >= 1] == \
        [r for r in theirs["cpu_memory_table"] if r["cpu"] >= 1]
    # and nothing the shipped table accepts is refused by the reference table
    strict, loose = load_limits(), load_limits(str(REFERENCE))
    for cpu in [x / 1000 for x in range(80, 1000, 7)] + [1, 2, 4, 6, 8]:
        for memory in (128, 256, 512, 513, 768, 1024, 1025, 2048, 4096, 8192, 16384, 24576, 32768):
            try:
                check_size(Size(cpu, memory), strict)
            except SpecError:
                continue
            check_size(Size(cpu, memory), loose)


@pytest.mark.parametrize("cpu,memory", [(1, 512), (1, 4096), (2, 8192), (4, 2048), (4, 16384), (6, 24576),
                                        (8, 32768), (0.583, 1024), (0.333, 512), (0.083, 128), (0.25, 256),
                                        (0.5, 512), (0.999, 1024)])
def test_valid_sizes_pass(cpu, memory):
    check_size(Size(cpu, memory))


@pytest.mark.parametrize("size,words", [
    # the CPU page allows these; the memory page asks more cpu: the stricter rule wins
    (Size(0.5, 1024), "1024 MiB needs at least 0.583 vCPU"),
    (Size(0.2, 512), "512 MiB needs at least 0.333 vCPU"),
    (Size(0.1, 256), "256 MiB needs at least 0.167 vCPU"),
    (Size(0.999, 1025), "1025 MiB needs at least 1 vCPU"),
])
def test_fractional_cpu_memory_follows_the_stricter_page(size, words):
    err = _refused(size)
    assert err.field == "resources.memory" and words in err.reason


def test_less_than_the_smallest_memory_tier_is_refused_on_cpu():
    err = _refused(Size(0.08, 128))
    assert err.field == "resources.cpu"
    assert "128 MiB (the least) needs at least 0.083 vCPU" in err.reason


def test_the_table_says_why_the_fractional_rows_are_stricter():
    text = LIMITS_FILE.read_text()
    for source in ("https://cloud.google.com/run/docs/configuring/services/cpu",
                   "https://cloud.google.com/functions/docs/configuring/memory"):
        assert source in text
    assert "stricter" in text


def _refused(size: Size) -> SpecError:
    with pytest.raises(SpecError) as err:
        check_size(size)
    return err.value


def test_more_than_4gib_with_one_cpu_is_refused_with_the_choices():
    err = _refused(Size(1, 8192))
    assert err.field == "resources.memory"
    assert "at most 4096 MiB" in err.reason and "needs at least 2 vCPU" in err.reason
    assert "1 vCPU: 128-4096 MiB" in err.hint and "8 vCPU: 4096-32768 MiB" in err.hint


@pytest.mark.parametrize("cpu", [3, 5, 7, 9, 16, 0.05, 0.0005, 1.5])
def test_invalid_cpu_values_are_refused_listing_the_valid_ones(cpu):
    err = _refused(Size(cpu, 512))
    assert err.field == "resources.cpu"
    assert "1, 2, 4, 6, 8, or a fraction from 0.08 to 1" in err.hint


@pytest.mark.parametrize("size,field,words", [
    (Size(4, 1024), "resources.memory", "4 vCPU needs at least 2048 MiB"),
    (Size(8, 40000), "resources.memory", "maximum of 32768 MiB"),
    (Size(0.2, 1024), "resources.memory", "needs at least 0.583 vCPU"),
    (Size(4, 16384, gpu=2), "resources.gpu", "at most 1 GPU"),
    (Size(2, 8192, gpu=1), "resources.gpu", "at least 4 vCPU and 16384 MiB"),
    (Size(4, 16384, gpu=1, gpu_type="nvidia-t4"), "resources.gpu_type", "nvidia-l4"),
])
def test_impossible_sizes_name_the_field(size, field, words):
    err = _refused(size)
    assert err.field == field
    assert words in err.reason + " " + (err.hint or "")


def test_one_l4_gpu_with_4_cpu_and_16gib_is_valid():
    check_size(Size(4, 16384, gpu=1, gpu_type="nvidia-l4"))
    check_size(Size(8, 32768, gpu=1))


@pytest.mark.parametrize("given,fitted,note", [
    (Size(1, 2048), Size(1, 2048), None),
    (Size(0.5, 1024), Size(1, 1024), "concurrency 1"),
    (Size(3, 4096), Size(4, 4096), "cpu 3 -> 4 vCPU"),
    (Size(1, 8192), Size(2, 8192), "cpu 1 -> 2 vCPU"),
    (Size(4, 1024), Size(4, 2048), "memory 1024 -> 2048 MiB"),
    (Size(16, 65536 // 2), Size(8, 32768), "LESS cpu"),
    (Size(2, 20000), Size(6, 20000), "cpu 2 -> 6 vCPU"),
    (Size(1, 2048, gpu=1, gpu_type="V100"), Size(4, 16384, gpu=1, gpu_type="nvidia-l4"), "V100 -> nvidia-l4"),
])
def test_fit_size_maps_to_the_nearest_valid_size_and_says_so(given, fitted, note):
    size, notes = fit_size(given)
    assert size == fitted
    check_size(size)
    if note is None:
        assert notes == []
    else:
        assert any(note in n for n in notes), notes


def test_fit_size_refuses_what_nothing_close_can_run():
    with pytest.raises(SpecError) as err:
        fit_size(Size(8, 65536))
    assert err.value.field == "resources.memory"
    with pytest.raises(SpecError) as err:
        fit_size(Size(8, 32768, gpu=4))
    assert err.value.field == "resources.gpu"


def test_fit_size_output_is_always_valid_over_a_grid():
    lim = load_limits()
    for cpu in (0.1, 0.5, 1, 1.5, 2, 3, 4, 5, 6, 7, 8, 12):
        for memory in (64, 128, 512, 1000, 2048, 4096, 6000, 8192, 12000, 16384, 24576, 30000, 32768):
            size, _ = fit_size(Size(cpu, memory), lim)
            check_size(size, lim)
            assert size.memory_mib >= memory  # memory is never taken away
