"""Run the runtime on uvicorn (httptools + uvloop when installed) with a clean SIGTERM exit.

On SIGTERM uvicorn stops accepting connections, lets in-flight requests finish (up to
MODELPORT_GRACEFUL_TIMEOUT seconds), runs the lifespan shutdown, and returns. It then re-raises
the signal so the default action would kill the process with status 143; we install a no-op
handler first so that a drained shutdown exits 0, which is what orchestrators count as clean.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import sys
import tempfile

from .app import RuntimeApp
from .config import RuntimeConfig
from .frameworks import load_model
from .metrics import MULTIPROC_ENV

log = logging.getLogger(__name__)


def _best(module: str, fast: str, fallback: str) -> str:
    return fast if importlib.util.find_spec(module) is not None else fallback


def uvicorn_options(config: RuntimeConfig) -> dict:
    """The uvicorn settings shared by the single- and multi-worker modes."""
    return {
        "host": config.host,
        "port": config.port,
        "loop": _best("uvloop", "uvloop", "asyncio"),
        "http": _best("httptools", "httptools", "h11"),
        "lifespan": "on",
        "access_log": False,  # the app writes its own JSON access log (see accesslog.py)
        "log_level": "info",
        "server_header": False,
        "proxy_headers": False,
        "timeout_graceful_shutdown": config.graceful_timeout or None,
        # Cloud load balancers keep connections open up to 60 s or more; closing idle ones after 5 s
        # (uvicorn's default) makes them race a reused connection against our close.
        "timeout_keep_alive": 75,
    }


def serve(config: RuntimeConfig) -> int:
    """Serve until SIGTERM/SIGINT; return the process exit status (0 after a drained shutdown)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s", stream=sys.stderr)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _ignore_replayed_signal)
    if config.workers > 1:
        return _serve_workers(config)
    app = RuntimeApp(config)
    server = uvicorn.Server(uvicorn.Config(app, **uvicorn_options(config)))

    def stop_on_failure(reason: str) -> None:
        server.should_exit = True  # a model that cannot load must not sit there "live" forever

    app.on_load_failure = stop_on_failure
    server.run()
    if app.host.load_error is not None:
        log.error("exiting: the model did not load (%s)", app.host.load_error)
        return 1
    return 0 if server.started else 1


def _serve_workers(config: RuntimeConfig) -> int:
    """MODELPORT_WORKERS > 1: uvicorn's supervisor runs that many processes on one socket."""
    import uvicorn

    try:
        # load once here first: a broken model must stop the container with a clear reason,
        # not make the supervisor restart workers that can never become ready
        load_model(config)
    except Exception as exc:
        log.error("exiting: the model did not load (%s: %s)", type(exc).__name__, exc)
        return 1
    # each worker counts into files here and any worker's /metrics sums them all (metrics.py)
    with tempfile.TemporaryDirectory(prefix="modelport-metrics-") as folder:
        os.environ[MULTIPROC_ENV] = folder
        uvicorn.run(f"{__package__}.app:app_from_environment", factory=True, workers=config.workers,
                    **uvicorn_options(config))
    return 0


def _ignore_replayed_signal(signum: int, frame: object) -> None:
    """Handler uvicorn restores and re-raises after its graceful shutdown: already handled, so no-op."""
