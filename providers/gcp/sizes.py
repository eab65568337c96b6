"""Cloud Run sizes: which cpu / memory / GPU combinations a revision may ask for (pure).

The figures come from ``limits.toml`` next to this file (the project's reference table with its
``verified_on`` dates and sources, plus the stricter fractional-cpu rows its header explains);
this module only applies them.
``check_size`` refuses a size Cloud Run would reject, naming the field and the valid choices;
``fit_size`` maps any size to the nearest one Cloud Run runs and says what changed.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from modelport.errors import SpecError
from modelport.provider import Size

LIMITS_FILE = Path(__file__).with_name("limits.toml")
GPU_TYPE = "nvidia-l4"
_EPS = 1e-9


@dataclass(frozen=True)
class CloudRunLimits:
    """The Cloud Run blocks of the limits table."""

    cpu: dict
    table: tuple[dict, ...]  # cpu -> memory range rows, ascending cpu
    memory: dict
    concurrency: dict
    gpu: dict
    table_version: str

    @property
    def whole(self) -> tuple[float, ...]:
        return tuple(float(c) for c in self.cpu["whole_options"])

    def row(self, cpu: float) -> dict | None:
        """The table row that applies to ``cpu`` (the largest row cpu not above it); None below
        the first row (no memory fits)."""
        rows = [r for r in self.table if r["cpu"] <= cpu + _EPS]
        return rows[-1] if rows else None

    def memory_range(self, cpu: float) -> tuple[int, int]:
        """(min, max) MiB a revision with ``cpu`` vCPU may have (max 0 below the first row)."""
        row = self.row(cpu)
        if row is None:
            return self.memory["min_mib_gen1"], 0
        return row.get("memory_min_mib", self.memory["min_mib_gen1"]), row["memory_max_mib"]

    def min_cpu_for(self, memory_mib: int) -> float:
        """The smallest valid cpu whose range admits ``memory_mib``."""
        for row in self.table:
            low, high = self.memory_range(row["cpu"])
            if memory_mib <= high:
                return float(row["cpu"])
        return float(self.table[-1]["cpu"])


@functools.cache
def load_limits(path: str | None = None) -> CloudRunLimits:
    """Read the shipped limits table (cached)."""
    data = tomllib.loads(Path(path or LIMITS_FILE).read_text())
    run = data["gcp"]["cloud_run"]
    table = tuple(sorted(run["cpu_memory_table"], key=lambda r: r["cpu"]))
    return CloudRunLimits(run["cpu"], table, run["memory"], run["concurrency"], run["gpu"],
                          data["meta"]["table_version"])


def _g(value: float) -> str:
    return f"{value:g}"


def cpu_choices(limits: CloudRunLimits) -> str:
    """The valid cpu values, in words."""
    c = limits.cpu
    return (f"{', '.join(_g(x) for x in limits.whole)}, or a fraction from {_g(c['fractional_min'])} "
            f"to {_g(c['fractional_max'])} in steps of {_g(c['fractional_increment'])}")


def memory_choices(limits: CloudRunLimits) -> str:
    """Memory allowed per cpu, in words."""
    parts = []
    for row in limits.table:
        low, high = limits.memory_range(row["cpu"])
        parts.append(f"{_g(row['cpu'])} vCPU: {low}-{high} MiB")
    return "; ".join(parts)


def cpu_valid(cpu: float, limits: CloudRunLimits) -> bool:
    """Is ``cpu`` a value Cloud Run accepts?"""
    c = limits.cpu
    if cpu >= c["fractional_max"] - _EPS:
        return any(abs(cpu - w) < _EPS for w in limits.whole)
    steps = cpu / c["fractional_increment"]
    return cpu >= c["fractional_min"] - _EPS and abs(steps - round(steps)) < 1e-6


def check_size(size: Size, limits: CloudRunLimits | None = None) -> None:
    """Raise SpecError (``resources.cpu`` / ``.memory`` / ``.gpu``) unless Cloud Run runs ``size``."""
    lim = limits or load_limits()
    _check_gpu(size, lim)
    if not cpu_valid(size.cpu, lim):
        raise SpecError("", "resources.cpu", f"Cloud Run cannot run {_g(size.cpu)} vCPU",
                        hint=f"valid cpu values: {cpu_choices(lim)}")
    if lim.row(size.cpu) is None:
        first = lim.table[0]
        raise SpecError("", "resources.cpu", f"{_g(size.cpu)} vCPU is too little for any memory on Cloud Run: "
                        f"{first['memory_max_mib']} MiB (the least) needs at least {_g(first['cpu'])} vCPU",
                        hint=f"set resources.cpu >= {_g(first['cpu'])}; valid: {memory_choices(lim)}")
    if size.memory_mib > lim.memory["max_mib"]:
        raise SpecError("", "resources.memory", f"{size.memory_mib} MiB is more than Cloud Run's "
                        f"maximum of {lim.memory['max_mib']} MiB per instance",
                        hint=f"valid: {memory_choices(lim)}")
    low, high = lim.memory_range(size.cpu)
    if size.memory_mib > high:
        need = lim.min_cpu_for(size.memory_mib)
        raise SpecError("", "resources.memory", f"{size.memory_mib} MiB is more than Cloud Run allows "
                        f"with {_g(size.cpu)} vCPU (at most {high} MiB); {size.memory_mib} MiB needs "
                        f"at least {_g(need)} vCPU", hint=f"valid: {memory_choices(lim)}")
    if size.memory_mib < low:
        raise SpecError("", "resources.memory", f"{_g(size.cpu)} vCPU needs at least {low} MiB on "
                        f"Cloud Run (got {size.memory_mib} MiB)", hint=f"valid: {memory_choices(lim)}")


def _check_gpu(size: Size, lim: CloudRunLimits) -> None:
    if not size.gpu:
        return
    gpu = lim.gpu
    if size.gpu > gpu["max_per_instance"]:
        raise SpecError("", "resources.gpu", f"Cloud Run attaches at most {gpu['max_per_instance']} GPU "
                        f"per instance (got {size.gpu})", hint=f"set resources.gpu = 1 ({GPU_TYPE})")
    if size.gpu_type not in (None, GPU_TYPE):
        raise SpecError("", "resources.gpu_type", f"Cloud Run offers the {GPU_TYPE} GPU, not "
                        f"{size.gpu_type!r}", hint=f"set resources.gpu_type = \"{GPU_TYPE}\" or leave it out")
    if size.cpu < gpu["min_cpu"] - _EPS or size.memory_mib < gpu["min_memory_mib"]:
        raise SpecError("", "resources.gpu", f"a GPU on Cloud Run needs at least {gpu['min_cpu']} vCPU "
                        f"and {gpu['min_memory_mib']} MiB (got {_g(size.cpu)} vCPU / {size.memory_mib} MiB)",
                        hint=f"set resources.cpu >= {gpu['min_cpu']} and resources.memory >= "
                             f"{gpu['min_memory_mib']}")


def fit_size(size: Size, limits: CloudRunLimits | None = None) -> tuple[Size, list[str]]:
    """The nearest size Cloud Run runs, with one note per change (SpecError when none is close)."""
    lim = limits or load_limits()
    notes: list[str] = []
    size = _fit_gpu(size, lim, notes)
    size = _fit_cpu(size, lim, notes)
    return _fit_memory(size, lim, notes), notes


def _fit_gpu(size: Size, lim: CloudRunLimits, notes: list[str]) -> Size:
    if not size.gpu:
        return size
    gpu = lim.gpu
    if size.gpu > gpu["max_per_instance"]:
        _check_gpu(size, lim)  # fewer GPUs than the model was sized for is not "close"
    if size.gpu_type != GPU_TYPE:
        notes.append(f"GPU type {size.gpu_type or 'unspecified'} -> {GPU_TYPE} (the GPU Cloud Run offers)")
        size = replace(size, gpu_type=GPU_TYPE)
    if size.cpu < gpu["min_cpu"]:
        notes.append(f"cpu {_g(size.cpu)} -> {gpu['min_cpu']} vCPU (a Cloud Run GPU needs at least {gpu['min_cpu']})")
        size = replace(size, cpu=float(gpu["min_cpu"]))
    if size.memory_mib < gpu["min_memory_mib"]:
        notes.append(f"memory {size.memory_mib} -> {gpu['min_memory_mib']} MiB (a Cloud Run GPU needs "
                     f"at least {gpu['min_memory_mib']} MiB)")
        size = replace(size, memory_mib=int(gpu["min_memory_mib"]))
    return size


def _fit_cpu(size: Size, lim: CloudRunLimits, notes: list[str]) -> Size:
    top = max(lim.whole)
    if size.cpu > top + _EPS:
        notes.append(f"cpu {_g(size.cpu)} -> {_g(top)} vCPU: Cloud Run's maximum (LESS cpu than asked)")
        return replace(size, cpu=top)
    if size.cpu < lim.cpu["fractional_max"] - _EPS:
        # Below 1 vCPU Cloud Run needs concurrency 1 and request-based billing, which would change
        # how the deployment scales; a migrated revision keeps its concurrency and gets 1 vCPU.
        notes.append(f"cpu {_g(size.cpu)} -> 1 vCPU: Cloud Run runs less than 1 vCPU only with "
                     f"concurrency {lim.cpu['fractional_requires_max_concurrency']}")
        return replace(size, cpu=1.0)
    if not cpu_valid(size.cpu, lim):
        up = min(w for w in lim.whole if w > size.cpu)
        notes.append(f"cpu {_g(size.cpu)} -> {_g(up)} vCPU (Cloud Run offers {', '.join(_g(w) for w in lim.whole)})")
        return replace(size, cpu=up)
    return size


def _fit_memory(size: Size, lim: CloudRunLimits, notes: list[str]) -> Size:
    if size.memory_mib > lim.memory["max_mib"]:
        raise SpecError("", "resources.memory", f"{size.memory_mib} MiB is more than Cloud Run's "
                        f"maximum of {lim.memory['max_mib']} MiB per instance; nothing close is valid",
                        hint=f"valid: {memory_choices(lim)}")
    low, high = lim.memory_range(size.cpu)
    if size.memory_mib > high:
        need = lim.min_cpu_for(size.memory_mib)
        notes.append(f"cpu {_g(size.cpu)} -> {_g(need)} vCPU: Cloud Run needs it for {size.memory_mib} MiB")
        size = replace(size, cpu=need)
        low, high = lim.memory_range(size.cpu)
    if size.memory_mib < low:
        notes.append(f"memory {size.memory_mib} -> {low} MiB: the minimum with {_g(size.cpu)} vCPU on Cloud Run")
        size = replace(size, memory_mib=int(low))
    return size
