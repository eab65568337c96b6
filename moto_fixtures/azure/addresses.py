"""Distinct loopback addresses (127.0.0.x) for container groups.

The whole of 127.0.0.0/8 is loopback, so every group can serve its ports on its own address.
Addresses held by any emulator in this process are tracked; a bind test skips addresses some
other process already serves on.
"""
from __future__ import annotations

import socket
import threading

_HELD: set[str] = set()
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


def allocate(ports: list[int], first: int = 100, last: int = 254) -> str:
    """Reserve a 127.0.0.x address on which all ``ports`` are free."""
    with _LOCK:
        for host in range(first, last + 1):
            ip = f"127.0.0.{host}"
            if ip not in _HELD and _free(ip, ports):
                _HELD.add(ip)
                return ip
    raise AddressesExhausted(f"no free address in 127.0.0.{first}-{last}")


def release(ip: str | None) -> None:
    """Give an address back."""
    with _LOCK:
        _HELD.discard(ip)
