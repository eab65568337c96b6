"""Loopback networking helpers: free ports, per-emulation 127.x.y.z addresses, waiting for sockets."""

from __future__ import annotations

import os
import random
import socket
import threading
import time


class EmulationStartError(RuntimeError):
    """A process the emulation needs (moto, the registry, a proxy) did not come up."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def can_bind(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` (containers use host networking, so we see them)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_for_tcp(host: str, port: int, timeout: float, what: str) -> None:
    """Block until ``host:port`` accepts connections; raise ``EmulationStartError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise EmulationStartError(f"{what} did not listen on {host}:{port} within {timeout:.0f}s")


class LoopbackPool:
    """Hands out distinct loopback addresses from one 127.A.B.0/24 block per emulation.

    A random block (not 127.0.0.x) keeps two emulations running at once on the same machine, and
    other tools that use 127.0.0.x, from handing out the same address.
    """

    def __init__(self, block: tuple[int, int] | None = None):
        rng = random.Random(os.getpid() ^ time.monotonic_ns())
        self._block = block or (rng.randint(64, 250), rng.randint(0, 255))
        self._taken: set[str] = set()
        self._lock = threading.Lock()

    @property
    def block(self) -> str:
        """The 127.A.B prefix this pool allocates from."""
        return "127.%d.%d" % self._block

    def allocate(self, port: int) -> str:
        """Reserve an address on which ``port`` is currently free."""
        with self._lock:
            for last in range(2, 255):
                addr = f"{self.block}.{last}"
                if addr not in self._taken and can_bind(addr, port):
                    self._taken.add(addr)
                    return addr
        raise EmulationStartError(f"no free address left in {self.block}.0/24 for port {port}")

    def release(self, addr: str) -> None:
        """Give an address back to the pool."""
        with self._lock:
            self._taken.discard(addr)
