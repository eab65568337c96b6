"""Distinct loopback addresses (127.0.0.x) for container groups.

The whole of 127.0.0.0/8 is loopback, so every group can serve its ports on its own address.
An address is held with an advisory file lock, so emulators in several processes on one
machine never hand out the same address (the lock dies with its process); a bind test also
skips addresses something else already serves on.
"""
from __future__ import annotations

import fcntl
import os
import socket
import tempfile
import threading
from pathlib import Path

_LOCK_DIR = Path(tempfile.gettempdir()) / "modelport-loopback-addresses"
_HELD: dict[str, int] = {}
_LOCK = threading.Lock()


class AddressesExhausted(RuntimeError):
    """No free 127.0.0.x address is left."""


def _free(ip: str, ports: list[int]) -> bool:
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((ip, port))
            except OSError:
                return False
    return True


def _claim(ip: str) -> int | None:
    _LOCK_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(_LOCK_DIR / ip, os.O_CREAT | os.O_RDWR, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def allocate(ports: list[int], first: int = 100, last: int = 254) -> str:
    """Reserve a 127.0.0.x address on which all ``ports`` are free."""
    with _LOCK:
        for host in range(first, last + 1):
            ip = f"127.0.0.{host}"
            if ip in _HELD:
                continue
            fd = _claim(ip)
            if fd is None:
                continue
            if _free(ip, ports):
                _HELD[ip] = fd
                return ip
            os.close(fd)
    raise AddressesExhausted(f"no free address in 127.0.0.{first}-{last}")


def release(ip: str | None) -> None:
    """Give an address back."""
    with _LOCK:
        fd = _HELD.pop(ip, None)
    if fd is not None:
        os.close(fd)
