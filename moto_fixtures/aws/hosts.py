"""Load balancer DNS names in /etc/hosts, inside a marked block owned by one emulation process.

A real user's resolver turns ``my-lb-123.us-east-1.elb.amazonaws.com`` into the load balancer's
address; here /etc/hosts does it (nsswitch ``hosts: files dns``), so product code resolves the
``DNSName`` moto reports with nothing emulation-specific. Each block is tagged with the owner's
pid: blocks whose process is gone (a crashed run) are removed when the next emulation starts.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
from pathlib import Path

HOSTS = Path("/etc/hosts")
_BEGIN = "# BEGIN moto_fixtures.aws load balancers pid={pid}"
_END = "# END moto_fixtures.aws load balancers pid={pid}"
_BLOCK = re.compile(r"^# BEGIN moto_fixtures\.aws load balancers pid=(\d+)\n.*?"
                    r"^# END moto_fixtures\.aws load balancers pid=\1\n", re.M | re.S)


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this machine (owners of stale blocks/containers)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class HostsBlock:
    """The ``ADDR NAME`` lines this process owns in the hosts file."""

    def __init__(self, path: Path = HOSTS, pid: int | None = None):
        self.path = path
        self.pid = pid or os.getpid()
        self._entries: dict[str, str] = {}
        self._lock = threading.Lock()

    def clean_stale(self) -> list[int]:
        """Remove blocks of processes that no longer run; return their pids."""
        removed: list[int] = []

        def edit(text: str) -> str:
            def drop(match: re.Match) -> str:
                pid = int(match.group(1))
                if pid != self.pid and not pid_alive(pid):
                    removed.append(pid)
                    return ""
                return match.group(0)
            return _BLOCK.sub(drop, text)

        self._rewrite(edit)
        return removed

    def set(self, name: str, addr: str) -> None:
        """Make ``name`` resolve to ``addr``."""
        with self._lock:
            if self._entries.get(name) == addr:
                return
            self._entries[name] = addr
            self._write_block()

    def remove(self, name: str) -> None:
        """Stop resolving ``name``."""
        with self._lock:
            if self._entries.pop(name, None) is not None:
                self._write_block()

    def clear(self) -> None:
        """Remove this process's whole block."""
        with self._lock:
            self._entries.clear()
            self._write_block()

    def _write_block(self) -> None:
        lines = [f"{addr} {name}" for name, addr in sorted(self._entries.items())]
        block = ""
        if lines:
            block = "\n".join([_BEGIN.format(pid=self.pid), *lines, _END.format(pid=self.pid)]) + "\n"

        def edit(text: str) -> str:
            kept = _BLOCK.sub(lambda m: "" if int(m.group(1)) == self.pid else m.group(0), text)
            if kept and not kept.endswith("\n"):
                kept += "\n"
            return kept + block

        self._rewrite(edit)

    def _rewrite(self, edit) -> None:
        # In place (not rename): /etc/hosts may be a bind mount. flock serialises emulations.
        with open(self.path, "r+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                text = fh.read()
                new = edit(text)
                if new != text:
                    fh.seek(0)
                    fh.write(new)
                    fh.truncate()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
