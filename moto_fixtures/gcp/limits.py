"""Cloud Run size limits, read once from the project's versioned limits table (limits.toml).

The figures live in the data table, never in this code: the emulator only knows how to apply
them. The table is looked up in this order: ``$MODELPORT_LIMITS_TOML``; the copy versioned with
the code (``providers/gcp/limits.toml``, also ``core/`` and ``core/data/``), which the gcp
provider validates against too: it starts from the shared reference and is newer where the
documentation was re-read (its ``table_version`` and comments say what changed and why, e.g. the
stricter of two pages); then the shared reference copy (``reference/`` or ``shared/reference/``
in any parent folder).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ENV_VAR = "MODELPORT_LIMITS_TOML"


class LimitsNotFound(RuntimeError):
    """No limits.toml could be found; the emulator cannot validate sizes without it."""


def _candidates() -> list[Path]:
    found = []
    if os.environ.get(ENV_VAR):
        found.append(Path(os.environ[ENV_VAR]))
    repo = Path(__file__).resolve().parents[2]
    found += [repo / "providers" / "gcp" / "limits.toml", repo / "core" / "limits.toml",
              repo / "core" / "data" / "limits.toml"]
    for parent in Path(__file__).resolve().parents:
        found.append(parent / "reference" / "limits.toml")
        found.append(parent / "shared" / "reference" / "limits.toml")
    return found


def find_limits_file() -> Path:
    """Return the path of the limits table, or raise LimitsNotFound naming where it looked."""
    candidates = _candidates()
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(map(str, candidates[:4]))
    raise LimitsNotFound(f"limits.toml not found; set {ENV_VAR} (looked in: {looked}, ...)")


@dataclass(frozen=True)
class CloudRunLimits:
    """The [gcp.cloud_run.*] blocks of limits.toml, as plain dictionaries."""

    cpu: dict
    cpu_memory_table: list[dict]
    memory: dict
    concurrency: dict
    request_timeout: dict
    gpu: dict
    table_version: str

    def max_memory_mib_for_cpu(self, cpu: float) -> int:
        """Largest memory allowed with `cpu` (the best row whose cpu does not exceed it)."""
        rows = [r for r in self.cpu_memory_table if r["cpu"] <= cpu + 1e-9]
        return max((r["memory_max_mib"] for r in rows), default=0)

    def min_memory_mib_for_cpu(self, cpu: float) -> int:
        """Smallest memory allowed with `cpu` (a floor only some whole-cpu rows set)."""
        rows = [r for r in self.cpu_memory_table if abs(r["cpu"] - cpu) < 1e-9]
        return max((r.get("memory_min_mib", 0) for r in rows), default=0)

    def min_cpu_for_memory(self, memory_mib: float) -> float:
        """Smallest cpu that may carry `memory_mib` (from memory.min_cpu and the cpu table)."""
        need = 0.0
        for rule in self.memory.get("min_cpu", []):
            if memory_mib > rule["memory_gt_mib"]:
                need = max(need, rule["min_cpu"])
        fitting = [r["cpu"] for r in self.cpu_memory_table if r["memory_max_mib"] >= memory_mib]
        if fitting:
            need = max(need, min(fitting))
        return need


@lru_cache(maxsize=4)
def load_limits(path: str | None = None) -> CloudRunLimits:
    """Load and cache the Cloud Run limits from `path` (default: find_limits_file())."""
    file = Path(path) if path else find_limits_file()
    with file.open("rb") as handle:
        data = tomllib.load(handle)
    run = data["gcp"]["cloud_run"]
    return CloudRunLimits(
        cpu=run["cpu"],
        cpu_memory_table=sorted(run["cpu_memory_table"], key=lambda r: r["cpu"]),
        memory=run["memory"],
        concurrency=run["concurrency"],
        request_timeout=run["request_timeout"],
        gpu=run["gpu"],
        table_version=data.get("meta", {}).get("table_version", "?"),
    )
