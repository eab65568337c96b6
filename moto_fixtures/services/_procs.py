"""Process plumbing shared by the services: spawn detached, wait for readiness, stop by pid."""

from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


_LIBC = ctypes.CDLL(None, use_errno=True)
_MNT_DETACH = 2
_PR_SET_PDEATHSIG = 1


class ServiceError(RuntimeError):
    """A helper service could not be started or stopped; the message says why and where to look."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now (the caller retries on a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def spawn(argv: list[str], log_path: Path, pass_fds: tuple[int, ...] = (),
          die_with_parent: bool = False) -> subprocess.Popen:
    """Start ``argv`` in its own session (like ``setsid``), output appended to ``log_path``.

    Its own session keeps it out of the terminal's process group: Ctrl-C reaches the script,
    whose trap then stops the service in order instead of the signal killing it half-way.
    ``die_with_parent`` makes the kernel SIGTERM it if the spawning thread dies without
    stopping it (a killed pytest must not leak registries); not for services that must
    outlive their starter, like the engine of ``up``.
    """
    with open(log_path, "ab") as log:
        try:
            return subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, pass_fds=pass_fds, close_fds=True,
                preexec_fn=_term_on_parent_death if die_with_parent else None,
            )
        except FileNotFoundError as exc:
            raise ServiceError(f"{argv[0]} is not installed (run scripts/bootstrap.sh)") from exc


def _term_on_parent_death() -> None:
    # Runs in the forked child: only a plain libc call, loaded beforehand (no imports here).
    _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


def log_tail(log_path: Path, lines: int = 15) -> str:
    """Last lines of a service log, for error messages."""
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(ready: Callable[[], bool], proc_alive: Callable[[], bool], *, timeout: float,
               what: str, log_path: Path) -> None:
    """Poll ``ready()`` until true; fail early if the process died, or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not proc_alive():
            raise ServiceError(f"{what} exited during start-up; log {log_path}:\n{log_tail(log_path)}")
        time.sleep(0.2)
    raise ServiceError(f"{what} did not answer within {timeout:.0f}s; log {log_path}:\n"
                       f"{log_tail(log_path)}")


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name, which may itself contain spaces.
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def pid_cmdline(pid: int) -> list[str]:
    """The argv of a running process (empty if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def stop_pid(pid: int, proc: subprocess.Popen | None = None, *, timeout: float = 30.0,
             group: bool = True) -> None:
    """SIGTERM ``pid``, wait up to ``timeout`` s, then SIGKILL (its process group if ``group``).

    ``proc`` is the Popen when this process spawned it, so the child is reaped (no zombie);
    otherwise (stopped from another process, e.g. ``down``) liveness is polled in /proc.
    """
    if not pid_alive(pid):
        _reap(proc)
        return
    _signal(pid, signal.SIGTERM, group=False)
    if _wait_gone(pid, proc, timeout):
        _kill_leftover_group(pid, group)
        return
    _signal(pid, signal.SIGKILL, group=group)
    if not _wait_gone(pid, proc, 10.0):
        raise ServiceError(f"process {pid} survived SIGKILL")


def unmount_under(root: Path) -> None:
    """Lazily unmount everything mounted at or below ``root`` (deepest first).

    dockerd leaves its ``netns/default`` bind mount in the exec-root (and, if killed, overlay
    mounts in the data-root); without this the directories cannot be removed.
    """
    prefix = str(root).rstrip("/")
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = _unescape(line.split()[4])
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    for point in sorted(points, key=len, reverse=True):
        _LIBC.umount2(point.encode(), _MNT_DETACH)


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040 …)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _signal(pid: int, sig: int, *, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, sig)  # spawn() made pid a session (and group) leader
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _kill_leftover_group(pid: int, group: bool) -> None:
    """After a clean exit, make sure helpers left in the group (e.g. containerd) die too."""
    if group:
        _signal(pid, signal.SIGKILL, group=True)


def _wait_gone(pid: int, proc: subprocess.Popen | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return True
        if proc is None and not pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


def _reap(proc: subprocess.Popen | None) -> None:
    if proc is not None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
