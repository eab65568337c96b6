"""One background asyncio loop that hosts the emulation's small HTTP servers (uvicorn)."""

from __future__ import annotations

import asyncio
import socket
import threading
from concurrent.futures import Future
from typing import Any, Coroutine

import uvicorn


class LoopThread:
    """An asyncio event loop running in a daemon thread; coroutines are submitted from any thread."""

    def __init__(self, name: str = "moto-aws-loop"):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> "LoopThread":
        """Start the loop thread."""
        self._thread.start()
        return self

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future:
        """Schedule ``coro`` on the loop and return a concurrent future for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        """Run ``coro`` on the loop and wait for its result."""
        return self.submit(coro).result(timeout)

    def stop(self) -> None:
        """Stop the loop and join its thread."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)


class HttpServer:
    """A uvicorn server for one ASGI app on one address, running on a ``LoopThread``.

    The listening socket is bound here, so an address already in use raises ``OSError`` in the
    caller instead of ending uvicorn's task quietly.
    """

    def __init__(self, runner: LoopThread, app: Any, host: str, port: int, tls: tuple[str, str] | None = None):
        self.host, self.port = host, port
        self._runner = runner
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        # tls: (certificate chain PEM, private key PEM) to serve HTTPS
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False,
                                timeout_graceful_shutdown=2, ssl_certfile=tls[0] if tls else None,
                                ssl_keyfile=tls[1] if tls else None)
        self._server = uvicorn.Server(config)
        self._task: Future | None = None

    def start(self, timeout: float = 10) -> "HttpServer":
        """Start serving and wait until the server accepts connections."""
        self._task = self._runner.submit(self._server.serve(sockets=[self._sock]))
        self._runner.run(self._wait_started(timeout), timeout + 1)
        return self

    async def _wait_started(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._server.started:
            if self._task is not None and self._task.done():
                self._task.result()  # re-raises what ended the server
            if loop.time() > deadline:
                raise TimeoutError(f"HTTP server on {self.host}:{self.port} did not start")
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        """Ask the server to exit, wait for it and close the socket."""
        self._server.should_exit = True
        if self._task is not None:
            try:
                self._task.result(10)
            except Exception:  # noqa: BLE001 - shutting down; the server's error no longer matters
                pass
        self._sock.close()
