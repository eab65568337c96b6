"""Run the runtime in a container of the base image, laid out as the image build lays it out.

The wheels come from ``pip download`` of :func:`runtime_requirements` for manylinux/CPython 3.11
(cached between runs), are installed with ``pip install --target`` and mounted with the runtime
files at ``/opt/modelport/modelport_runtime``: this proves the pinned wheels work on the image's
Python, without needing the image build.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from modelport.runtime.requirements import pip_download_args, runtime_requirements

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "core" / "runtime"
CACHE = Path.home() / ".cache" / "modelport" / "runtime-site"


def site_packages(frameworks: tuple[str, ...] = ("sklearn", "onnx"), extra: tuple[str, ...] = ()) -> Path:
    """A directory with the runtime's wheels for ``frameworks`` (and ``extra`` pinned requirements)
    installed; built once, then cached."""
    requirements = sorted({r for fw in frameworks for r in runtime_requirements(fw)} | set(extra))
    key = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:16]
    target = CACHE / key
    if (target / ".complete").exists():
        return target
    wheels = CACHE / f"{key}-wheels"
    for framework in frameworks:
        _pip(pip_download_args(framework, str(wheels)))
    if extra:
        download = pip_download_args("custom", str(wheels))
        _pip([*download[:download.index("--dest") + 2], *extra])
    _pip(["install", "--no-index", "--find-links", str(wheels), "--target", str(target), "--no-compile",
          "--upgrade", *requirements])
    (target / ".complete").write_text("\n".join(requirements))
    shutil.rmtree(wheels, ignore_errors=True)  # installed now; keep only the site directory
    return target


def _pip(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"pip {args[0]} failed:\n{done.stderr[-3000:]}")


def run_runtime(client, image: str, site: Path, env: dict[str, str], mounts: dict[Path, str],
                command: tuple[str, ...] = ("python3", "-m", "modelport_runtime", "serve")):
    """Start a detached container of ``image`` running ``command`` (default: the runtime) with
    ``env``, host networking and the site/runtime/``mounts`` read-only; the caller removes it."""
    volumes = {str(site): {"bind": "/opt/site", "mode": "ro"},
               str(RUNTIME_DIR): {"bind": "/opt/modelport/modelport_runtime", "mode": "ro"}}
    volumes.update({str(host): {"bind": inside, "mode": "ro"} for host, inside in mounts.items()})
    return client.containers.run(
        image, list(command), detach=True, network_mode="host",
        name=f"modelport-runtime-test-{uuid.uuid4().hex[:8]}", volumes=volumes,
        environment={"PYTHONPATH": "/opt/modelport:/opt/site", "PYTHONDONTWRITEBYTECODE": "1", **env},
    )
