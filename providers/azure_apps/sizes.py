"""Container Apps sizes: the documented Consumption cpu/memory pairs (pure).

The figures come from ``limits.toml`` next to this file (with its sources); this module only
applies them. One modelport revision runs one container, so its size is the revision's total:
cpu in 0.25 vCPU steps from 0.25 up to 2 (Consumption plan) or 4 (Consumption workload profile),
memory exactly 2 GiB per vCPU. No GPU on the Consumption profile.
"""

from __future__ import annotations

import functools
import math
import tomllib
from dataclasses import replace
from pathlib import Path

from modelport.errors import SpecError
from modelport.provider import Size

LIMITS_FILE = Path(__file__).with_name("limits.toml")
MIB_PER_GIB = 1024


@functools.cache
def limits() -> dict:
    """The Consumption block of the shipped table (cached)."""
    return tomllib.loads(LIMITS_FILE.read_text())["azure"]["container_apps"]


def max_cpu(workload_profiles: bool) -> float:
    """The largest cpu total: Consumption plan or Consumption workload profile."""
    block = limits()["consumption"]
    return float(block["max_cpu_workload_profile" if workload_profiles else "max_cpu_consumption_plan"])


def pairs(workload_profiles: bool) -> list[tuple[float, int]]:
    """Every valid (cpu, memory MiB) pair, smallest first."""
    block = limits()["consumption"]
    step, per_cpu = float(block["cpu_step"]), float(block["memory_gib_per_cpu"])
    count = int(round(max_cpu(workload_profiles) / step))
    return [(step * i, int(step * i * per_cpu * MIB_PER_GIB)) for i in range(1, count + 1)]


def memory_text(memory_mib: int) -> str:
    """The template's memory value ('1.5Gi')."""
    return f"{memory_mib / MIB_PER_GIB:g}Gi"


def _pair_list(workload_profiles: bool) -> str:
    return ", ".join(f"{c:g}/{memory_text(m)}" for c, m in pairs(workload_profiles))


def check_size(size: Size, workload_profiles: bool = False) -> None:
    """Raise SpecError naming ``resources.*`` unless ``size`` is one documented pair."""
    if size.gpu:
        raise SpecError("", "resources.gpu", "the Container Apps Consumption profile has no GPU",
                        hint="remove resources.gpu or use another target")
    if (size.cpu, size.memory_mib) in pairs(workload_profiles):
        return
    top = max_cpu(workload_profiles)
    field = "resources.cpu" if size.cpu > top or size.cpu <= 0 else "resources.memory"
    raise SpecError("", field, f"Container Apps runs cpu/memory pairs of 2 GiB per vCPU in 0.25 vCPU steps "
                    f"up to {top:g} vCPU; {size.cpu:g} vCPU with {size.memory_mib} MiB is not one",
                    hint=f"pick one of {_pair_list(workload_profiles)}")


def fit_size(size: Size, workload_profiles: bool = False) -> tuple[Size, list[str]]:
    """The smallest pair holding ``size`` (at least its cpu and memory), with a note."""
    if size.gpu:
        check_size(size, workload_profiles)
    need = max(size.cpu, size.memory_mib / (2 * MIB_PER_GIB))
    step = float(limits()["consumption"]["cpu_step"])
    cpu = max(step, math.ceil(round(need / step, 6)) * step)
    if cpu > max_cpu(workload_profiles):
        raise SpecError("", "resources.memory" if size.memory_mib / (2 * MIB_PER_GIB) > size.cpu else "resources.cpu",
                        f"{size.cpu:g} vCPU / {size.memory_mib} MiB is more than Container Apps' largest "
                        f"Consumption pair ({max_cpu(workload_profiles):g} vCPU / "
                        f"{memory_text(int(max_cpu(workload_profiles) * 2 * MIB_PER_GIB))}); nothing close is valid",
                        hint=f"pick one of {_pair_list(workload_profiles)}")
    fitted = replace(size, cpu=cpu, memory_mib=int(cpu * 2 * MIB_PER_GIB))
    if fitted == size:
        return size, []
    return fitted, [f"{size.cpu:g} vCPU / {size.memory_mib} MiB -> {cpu:g} vCPU / {memory_text(fitted.memory_mib)}: "
                    "Container Apps runs pairs of 2 GiB per vCPU in 0.25 vCPU steps"]
