"""The ACI limits table, read from the project's versioned ``limits.toml`` ([azure.*]).

No figure is written in code: the emulator refuses exactly what the table says the cloud
refuses, so a change of the documented limits is a change of one data file.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]
_CANDIDATES = (
    _REPO / "core" / "limits.toml",
    _REPO / "core" / "data" / "limits.toml",
    _REPO.parent / "shared" / "reference" / "limits.toml",
    Path("/work/shared/reference/limits.toml"),
)


class LimitsNotFound(RuntimeError):
    """No limits.toml could be found; set MODELPORT_LIMITS_FILE to its path."""


@dataclass(frozen=True)
class AciLimits:
    """The Linux container-group limits, GPU sizes and default quotas of ACI."""

    linux: dict
    gpu: dict
    quotas: dict

    def gpu_size(self, sku: str, count: int) -> dict | None:
        """The documented size row for ``count`` GPUs of ``sku``, or None."""
        for row in self.gpu.get("sizes", []):
            if row["sku"] == sku and row["count"] == count:
                return row
        return None


def limits_path() -> Path:
    """Where limits.toml is read from (MODELPORT_LIMITS_FILE first)."""
    env = os.environ.get("MODELPORT_LIMITS_FILE")
    for path in ([Path(env)] if env else []) + list(_CANDIDATES):
        if path.is_file():
            return path
    raise LimitsNotFound("limits.toml not found; set MODELPORT_LIMITS_FILE to its path "
                         f"(looked in {', '.join(str(p) for p in _CANDIDATES)})")


@lru_cache(maxsize=1)
def aci_limits() -> AciLimits:
    """Load the [azure.container_instances.*] tables."""
    with limits_path().open("rb") as fh:
        table = tomllib.load(fh)["azure"]["container_instances"]
    return AciLimits(linux=table["linux"], gpu=table["gpu"], quotas=table["default_quotas"])
