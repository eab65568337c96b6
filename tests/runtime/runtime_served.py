"""Start the runtime as the image does (``python -m modelport_runtime serve``) on a 127.0.0.x address.

Used by the subprocess tests, the container test and benchmarks: the runtime files are reached
through a directory holding a symlink named ``modelport_runtime``, exactly the image's layout.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "core" / "runtime"


def runtime_path_dir(tmp: Path) -> Path:
    """A directory to put on PYTHONPATH in which ``modelport_runtime`` is the runtime package."""
    folder = tmp / "pythonpath"
    folder.mkdir(exist_ok=True)
    link = folder / "modelport_runtime"
    if not link.exists():
        link.symlink_to(RUNTIME_DIR, target_is_directory=True)
    return folder


def free_address() -> tuple[str, int]:
    """A random 127.0.0.x address and a port free on it."""
    host = f"127.0.0.{random.randint(2, 250)}"
    with socket.socket() as probe:
        probe.bind((host, 0))
        return host, probe.getsockname()[1]


def start(tmp: Path, env: dict[str, str], args: tuple[str, ...] = ("serve",)) -> tuple[subprocess.Popen, str]:
    """Start the runtime with ``env`` added; returns the process and its base URL."""
    host, port = free_address()
    full = {**os.environ, **env, "PYTHONPATH": str(runtime_path_dir(tmp)), "MODELPORT_HOST": host, "PORT": str(port)}
    log = open(tmp / "runtime.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "modelport_runtime", *args], env=full, cwd=tmp,
                               stdout=log, stderr=subprocess.STDOUT)
    return process, f"http://{host}:{port}"


def wait_ready(url: str, process: subprocess.Popen | None = None, timeout: float = 60) -> None:
    """Poll /v2/health/ready until 200; fails early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"runtime exited with {process.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} was not ready within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    """Make sure ``process`` is gone (tests normally stop it themselves)."""
    if process.poll() is None:
        process.kill()
        process.wait(10)


@contextmanager
def serve_in_thread(app, timeout: float = 60) -> Iterator[str]:
    """Serve a RuntimeApp with uvicorn, configured as the runtime configures it, on a thread of
    this process (cheaper than a subprocess, still real HTTP); yields the base URL. The access
    log goes to ``app.captured_access_log``."""
    import uvicorn

    from modelport.runtime.server import uvicorn_options
    from runtime_helpers import capture_access_log

    app.captured_access_log = capture_access_log(app)

    host, port = free_address()
    options = {**uvicorn_options(app.config), "host": host, "port": port, "log_level": "warning"}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError(f"uvicorn on {host}:{port} did not start")
        time.sleep(0.02)
    try:
        assert app.host.wait_loaded(timeout), "model did not finish loading"
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
