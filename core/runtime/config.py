"""Runtime configuration, read once from the environment variables the image build sets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .errors import RuntimeConfigError

FRAMEWORKS = ("sklearn", "onnx", "custom")
DEFAULT_PORT = 8080
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class RuntimeConfig:
    """Everything the runtime needs to know; built by :meth:`from_env` or directly in tests."""

    model_name: str
    model_path: Path
    framework: str
    model_version: str = "1"
    predict_file: Path | None = None
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    workers: int = 1
    predict_threads: int = 2
    inline_below_ms: int = 10
    graceful_timeout: int = 30
    access_log: bool = True
    max_batch_size: int = 0  # 0: batching off
    max_batch_delay_ms: int = 5
    api_key: str | None = field(default=None, repr=False)  # MODELPORT_API_KEY: never shown

    def __post_init__(self) -> None:
        # accept str paths from callers; frozen, so set through object
        object.__setattr__(self, "model_path", Path(self.model_path))
        if self.predict_file is not None:
            object.__setattr__(self, "predict_file", Path(self.predict_file))
        if self.framework not in FRAMEWORKS:
            raise RuntimeConfigError(
                f"MODELPORT_FRAMEWORK={self.framework!r} is not supported; use one of {', '.join(FRAMEWORKS)}"
            )
        if not self.model_name or "/" in self.model_name:
            raise RuntimeConfigError(f"MODELPORT_MODEL_NAME={self.model_name!r} must be a non-empty name without '/'")
        if self.framework == "custom" and self.predict_file is None:
            raise RuntimeConfigError("MODELPORT_PREDICT_FILE must name predict.py when MODELPORT_FRAMEWORK=custom")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "RuntimeConfig":
        """Read the MODELPORT_* variables (and PORT) from ``env`` (default: os.environ)."""
        env = os.environ if env is None else env
        path = _required(env, "MODELPORT_MODEL_PATH")
        predict_file = env.get("MODELPORT_PREDICT_FILE") or None
        return cls(
            model_name=_required(env, "MODELPORT_MODEL_NAME"),
            model_version=env.get("MODELPORT_MODEL_VERSION") or "1",
            model_path=Path(path),
            framework=_required(env, "MODELPORT_FRAMEWORK").lower(),
            predict_file=Path(predict_file) if predict_file else None,
            host=env.get("MODELPORT_HOST") or "0.0.0.0",
            port=_integer(env, "PORT", DEFAULT_PORT, 1, 65535),
            max_body_bytes=_integer(env, "MODELPORT_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1, 2**40),
            workers=_integer(env, "MODELPORT_WORKERS", 1, 1, 64),
            predict_threads=_integer(env, "MODELPORT_PREDICT_THREADS", min(4, os.cpu_count() or 1), 0, 64),
            inline_below_ms=_integer(env, "MODELPORT_INLINE_BELOW_MS", 10, 0, 60_000),
            graceful_timeout=_integer(env, "MODELPORT_GRACEFUL_TIMEOUT", 30, 0, 3600),
            access_log=_boolean(env, "MODELPORT_ACCESS_LOG", True),
            max_batch_size=_integer(env, "MODELPORT_MAX_BATCH_SIZE", 0, 0, 65536),
            max_batch_delay_ms=_integer(env, "MODELPORT_MAX_BATCH_DELAY_MS", 5, 0, 1000),
            api_key=(env.get("MODELPORT_API_KEY") or "").strip() or None,
        )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise RuntimeConfigError(f"environment variable {name} is not set")
    return value


def _boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise RuntimeConfigError(f"{name}={raw!r} is not a boolean; use true or false")


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RuntimeConfigError(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise RuntimeConfigError(f"{name}={value} is outside {low}..{high}")
    return value
