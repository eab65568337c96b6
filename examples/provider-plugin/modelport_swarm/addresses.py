"""Choosing where a new revision listens: an address (loopback scheme) or a port (IP scheme).

Services use host networking, so two revisions must never bind the same address and port. A
choice counts as taken once a service carries it in its labels; choosing and creating happen
under a machine-wide lock so two modelport processes never pick the same one.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import socket
import tempfile
from contextlib import contextmanager
from typing import Iterable, Iterator

from modelport.errors import ProviderError

from .settings import SwarmSettings


@contextmanager
def allocation_lock() -> Iterator[None]:
    """A machine-wide lock around choosing an address/port and creating its service."""
    path = os.path.join(tempfile.gettempdir(), "modelport-swarm-addresses.lock")
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def choose(settings: SwarmSettings, spec_port: int, taken: Iterable[tuple[str, str]]) -> tuple[str, int]:
    """``(address, port)`` for a new revision, avoiding ``taken`` (address, port) label pairs and
    anything already bound on this machine."""
    used = set(taken)
    if settings.address == "loopback":
        return _loopback(settings, spec_port, used)
    first, last = settings.port_range  # the settings model requires it for an IP address
    for port in range(first, last + 1):
        if (settings.address, str(port)) not in used and _bindable(settings.address, port):
            return settings.address, port
    raise ProviderError("swarm", "choose a port",
                        f"every port of port_range {first}-{last} on {settings.address} is taken",
                        hint="widen targets.NAME.port_range or delete old revisions")


def _loopback(settings: SwarmSettings, spec_port: int, used: set[tuple[str, str]]) -> tuple[str, int]:
    ports = range(settings.port_range[0], settings.port_range[1] + 1) if settings.port_range else [spec_port]
    for host in ipaddress.ip_network(settings.loopback_range).hosts():
        address = str(host)
        if address == "127.0.0.1":
            continue
        for port in ports:
            if (address, str(port)) not in used and _bindable(address, port):
                return address, port
    raise ProviderError("swarm", "choose an address", f"no free address left in {settings.loopback_range}")


def _bindable(address: str, port: int) -> bool:
    """False when something on this machine already listens there. An address this machine does
    not have (a remote node's) cannot be checked here and counts as free."""
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, port))
        except OSError as exc:
            return exc.errno != errno.EADDRINUSE
    return True
