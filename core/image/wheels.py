"""Resolve and download the image's Python dependencies as wheels, on the host.

The build runs without network (pip inside a container cannot reach an index the way the host
does), so every dependency is resolved here for the image's platform — its architecture, glibc
and Python version, probed from the base image — and installed in the build from these files.
Downloads are cached by the exact requirement set and platform, so an unchanged dependency list
gives a byte-identical dependency folder and Docker reuses the layer.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildError

ARCH = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}


@dataclass(frozen=True)
class Platform:
    """What the base image runs: e.g. x86_64, glibc 2.36, CPython 3.11."""

    arch: str
    glibc: tuple[int, int]
    python: tuple[int, int]

    def pip_args(self) -> list[str]:
        """``pip download`` flags selecting wheels this platform can install."""
        tags = [f"manylinux_2_{minor}_{self.arch}" for minor in range(17, self.glibc[1] + 1)]
        tags.append(f"manylinux2014_{self.arch}")
        major, minor = self.python
        args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", f"{major}.{minor}",
                "--abi", f"cp{major}{minor}"]
        for tag in tags:
            args += ["--platform", tag]
        return args


def cache_dir() -> Path:
    """``$MODELPORT_HOME/wheels`` (default ``~/.cache/modelport/wheels``)."""
    return Path(os.environ.get("MODELPORT_HOME", Path.home() / ".cache" / "modelport")) / "wheels"


def download_wheels(requirements: list[str], platform: Platform) -> Path:
    """A folder holding ``requirements.txt`` and every wheel it needs (plus pip's own wheel,
    used to install them inside the build). Raises :class:`BuildError` naming what failed."""
    reqs = sorted(set(requirements))
    key = hashlib.sha256(json.dumps([reqs, platform.arch, platform.glibc, platform.python]).encode()).hexdigest()[:16]
    folder = cache_dir() / key
    if (folder / ".complete").exists():
        return folder
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "wheels").mkdir(parents=True)
    (tmp / "requirements.txt").write_text("\n".join(reqs) + "\n")
    _pip_download(["-r", str(tmp / "requirements.txt"), "pip"], tmp / "wheels", platform)
    pip_wheel = sorted((tmp / "wheels").glob("pip-*.whl"))
    if not pip_wheel:
        raise BuildError("pip's wheel was not downloaded; cannot install dependencies in the build")
    pip_wheel[-1].rename(tmp / "pip.whl")
    (tmp / ".complete").write_text("")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def _pip_download(args: list[str], dest: Path, platform: Platform) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
           "-d", str(dest), *platform.pip_args(), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [l for l in proc.stderr.splitlines() if l.startswith("ERROR")] or proc.stderr.splitlines()[-3:]
        raise BuildError(
            "could not resolve the image's Python dependencies for "
            f"{platform.arch}/CPython {'.'.join(map(str, platform.python))}: {' '.join(lines)}",
            hint="check serving.requirements: each must have a wheel for Linux and this Python")
