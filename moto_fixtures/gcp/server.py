"""Run several ASGI apps (the API and one router per service) with uvicorn on one event loop.

The loop lives in a daemon thread so the emulator can be used from synchronous tests.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass

import uvicorn


@dataclass
class Served:
    """One app being served: where, and the uvicorn server that serves it."""

    host: str
    port: int
    server: uvicorn.Server
    future: object

    @property
    def url(self) -> str:
        """http://host:port of the app."""
        return f"http://{self.host}:{self.port}"


class LoopThread:
    """An asyncio loop in a background thread, hosting uvicorn servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="cloudrun-emulator",
                                       daemon=True)
        self.thread.start()

    def serve(self, app, host: str = "127.0.0.1", port: int = 0) -> Served:
        """Start serving `app` on host:port (0 = any free port) and return once it listens."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # Idle keep-alive connections stay open 610 s, as Google's front ends keep them ("HTTP
        # keepalive timeout: 610 seconds", https://cloud.google.com/load-balancing/docs/https#timeouts_and_retries),
        # not uvicorn's 5 s: a client (requests/urllib3 in the official SDK) reusing a connection
        # at the instant the server drops it gets "Remote end closed connection", which the real
        # API's long keep-alive makes practically impossible.
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False,
                                timeout_graceful_shutdown=2, timeout_keep_alive=610)
        server = uvicorn.Server(config)
        future = asyncio.run_coroutine_threadsafe(server.serve(sockets=[sock]), self.loop)
        for _ in range(200):
            if server.started or future.done():
                break
            threading.Event().wait(0.02)
        if future.done():
            future.result()  # surfaces the startup error
        return Served(host, sock.getsockname()[1], server, future)

    def stop_serving(self, served: Served, wait: float = 5.0) -> None:
        """Ask a server to exit and wait for it."""
        served.server.should_exit = True
        try:
            served.future.result(timeout=wait)
        except Exception:  # noqa: BLE001 - a server that failed is stopped all the same
            pass

    def call(self, coro, timeout: float = 10.0):
        """Run a coroutine on the loop from another thread and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
