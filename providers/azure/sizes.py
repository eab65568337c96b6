"""Container Instances sizes: which cpu / memory / GPU a container group may ask for (pure).

The figures come from ``limits.toml`` next to this file (a verbatim copy of the project's
reference table with its ``verified_on`` dates and sources, plus the memory step this provider
applies); this module only applies them. One modelport revision is one container group with one
container, so the per-group maxima are the container's. ``check_size`` refuses a size ACI would
reject, naming the field and the valid choices; ``fit_size`` maps a size to the nearest one ACI
runs and says what changed.

Rules: (1) cpu at most the group maximum (4 vCPU; the VNet maximum in a subnet); (2) memory at
most the group maximum (16 GB); (3) memory in steps of 0.1 GB (1 GB = 1024 MiB); (4) GPU: only the
SKUs ACI still offers (V100), in the documented counts (1, 2, 4), not in a VNet, with that GPU
size's cpu/memory maxima. cpu must be above 0.
"""

from __future__ import annotations

import functools
import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from modelport.errors import SpecError
from modelport.provider import Size

LIMITS_FILE = Path(__file__).with_name("limits.toml")
MIB_PER_GB = 1024


@dataclass(frozen=True)
class AciLimits:
    """The Container Instances blocks of the limits table."""

    linux: dict
    gpu: dict
    memory_step_gb: float
    table_version: str

    def maxima(self, in_vnet: bool) -> tuple[float, float]:
        """(cpu, memory GB) a group without GPU may request."""
        if in_vnet:
            return float(self.linux["vnet_max_cpu"]), float(self.linux["vnet_max_memory_gb"])
        return float(self.linux["max_cpu"]), float(self.linux["max_memory_gb"])

    def gpu_size(self, sku: str, count: int) -> dict | None:
        """The documented GPU size row, or None."""
        return next((r for r in self.gpu["sizes"] if r["sku"] == sku and r["count"] == count), None)

    @property
    def gpu_skus(self) -> list[str]:
        return list(self.gpu["available_skus"])


@functools.cache
def load_limits(path: str | None = None) -> AciLimits:
    """Read the shipped limits table (cached)."""
    data = tomllib.loads(Path(path or LIMITS_FILE).read_text())
    aci = data["azure"]["container_instances"]
    return AciLimits(aci["linux"], aci["gpu"], float(aci["granularity"]["memory_step_gb"]),
                     data["meta"]["table_version"])


def _g(value: float) -> str:
    return f"{value:g}"


def memory_gb(memory_mib: int, step: float = 0.1) -> float:
    """memoryInGB for ``memory_mib`` (exact when the size is valid)."""
    return round(round(memory_mib / (MIB_PER_GB * step)) * step, 3)


def _step_mib(lim: AciLimits) -> float:
    return MIB_PER_GB * lim.memory_step_gb


def memory_on_step(memory_mib: int, lim: AciLimits) -> bool:
    """Is ``memory_mib`` a whole number of memory steps (within a MiB of rounding)?"""
    step = _step_mib(lim)
    return abs(memory_mib - round(memory_mib / step) * step) < 1


def _gpu_row(size: Size, lim: AciLimits, in_vnet: bool) -> dict:
    """The GPU size row for ``size`` or a SpecError (rule 4)."""
    skus = ", ".join(lim.gpu_skus)
    if in_vnet and not lim.gpu["vnet_supported"]:
        raise SpecError("", "resources.gpu", "Container Instances offers no GPU in a virtual network (subnet_id)",
                        hint="remove subnet_id from the target or run without a GPU")
    if size.gpu_type not in lim.gpu_skus:
        raise SpecError("", "resources.gpu_type", f"Container Instances offers the GPU SKU(s) {skus}, "
                        f"not {size.gpu_type!r}", hint=f"set resources.gpu_type = \"{lim.gpu_skus[0]}\"")
    row = lim.gpu_size(size.gpu_type, size.gpu)
    if row is None:
        counts = ", ".join(str(c) for c in lim.gpu["counts"])
        raise SpecError("", "resources.gpu", f"Container Instances attaches {counts} {size.gpu_type} GPUs "
                        f"per group, not {size.gpu}", hint=f"set resources.gpu to one of {counts}")
    return row


def check_size(size: Size, in_vnet: bool = False, limits: AciLimits | None = None) -> None:
    """Raise SpecError (``resources.cpu`` / ``.memory`` / ``.gpu``) unless ACI runs ``size`` as is."""
    lim = limits or load_limits()
    if size.gpu:
        row = _gpu_row(size, lim, in_vnet)
        max_cpu, max_gb, what = float(row["max_cpu"]), float(row["max_memory_gb"]), f"{size.gpu} {size.gpu_type} GPU"
    else:
        (max_cpu, max_gb), what = lim.maxima(in_vnet), "a group" + (" in a VNet" if in_vnet else "")
    if size.cpu <= 0 or size.cpu > max_cpu + 1e-9:
        raise SpecError("", "resources.cpu", f"Container Instances runs more than 0 and at most "
                        f"{_g(max_cpu)} vCPU for {what} (got {_g(size.cpu)})",
                        hint=f"set resources.cpu between 0.1 and {_g(max_cpu)}")
    if size.memory_mib > max_gb * MIB_PER_GB:
        raise SpecError("", "resources.memory", f"Container Instances runs at most {_g(max_gb)} GB of memory "
                        f"for {what} (got {size.memory_mib} MiB)",
                        hint=f"set resources.memory to at most {int(max_gb * MIB_PER_GB)}Mi")
    if not memory_on_step(size.memory_mib, lim):
        raise SpecError("", "resources.memory", f"Container Instances takes memory in steps of "
                        f"{_g(lim.memory_step_gb)} GB; {size.memory_mib} MiB is not one",
                        hint="use a multiple of 0.1 GB (102.4 MiB), e.g. 512Mi, 1Gi, 1536Mi")


def fit_size(size: Size, in_vnet: bool = False, limits: AciLimits | None = None) -> tuple[Size, list[str]]:
    """The nearest size ACI runs, with one note per change (SpecError when none is close)."""
    lim = limits or load_limits()
    notes: list[str] = []
    if size.gpu:
        size = _fit_gpu(size, lim, notes)
        row = _gpu_row(size, lim, in_vnet)
        max_cpu, max_gb = float(row["max_cpu"]), float(row["max_memory_gb"])
    else:
        max_cpu, max_gb = lim.maxima(in_vnet)
    if size.cpu > max_cpu:
        notes.append(f"cpu {_g(size.cpu)} -> {_g(max_cpu)} vCPU: Container Instances' maximum per group "
                     "(LESS cpu than asked)")
        size = replace(size, cpu=max_cpu)
    if not memory_on_step(size.memory_mib, lim):
        step = _step_mib(lim)
        fitted = math.ceil(math.ceil(size.memory_mib / step) * step)
        notes.append(f"memory {size.memory_mib} -> {fitted} MiB ({memory_gb(fitted)} GB): Container "
                     f"Instances takes memory in steps of {_g(lim.memory_step_gb)} GB")
        size = replace(size, memory_mib=fitted)
    if size.memory_mib > max_gb * MIB_PER_GB:
        raise SpecError("", "resources.memory", f"{size.memory_mib} MiB is more than Container Instances' "
                        f"maximum of {_g(max_gb)} GB per group; nothing close is valid",
                        hint=f"set resources.memory to at most {int(max_gb * MIB_PER_GB)}Mi")
    check_size(size, in_vnet, lim)
    return size, notes


def _fit_gpu(size: Size, lim: AciLimits, notes: list[str]) -> Size:
    sku = lim.gpu_skus[0]
    if size.gpu_type not in lim.gpu_skus:
        notes.append(f"GPU type {size.gpu_type or 'unspecified'} -> {sku} (the GPU Container Instances offers)")
        size = replace(size, gpu_type=sku)
    counts = sorted(int(c) for c in lim.gpu["counts"])
    if size.gpu not in counts:
        bigger = [c for c in counts if c > size.gpu]
        if not bigger:
            return size  # _gpu_row names the valid counts
        notes.append(f"gpu {size.gpu} -> {bigger[0]} (Container Instances attaches {', '.join(map(str, counts))})")
        size = replace(size, gpu=bigger[0])
    return size
