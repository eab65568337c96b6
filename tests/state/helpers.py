"""Shared by the state tests: subprocess scripts that hold or race for a lease, a dead pid."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHORT_TTL = {"azblob": 15.0}  # Azure Blob leases last 15 to 60 s; the others take any length


def ttl_for(kind: str, wanted: float = 2.0) -> float:
    """The shortest lease the backend allows, at least ``wanted`` seconds."""
    return max(wanted, SHORT_TTL.get(kind, 0.0))


def dead_pid() -> int:
    """The pid of a process that has ended (on this host)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def python(script: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    """``python -c script args`` with pipes, on the repo's modelport."""
    return subprocess.Popen([sys.executable, "-c", script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {}), "PYTHONPATH": str(REPO)})


# Takes the lease, journals an operation, then (after the parent's line) tries one more write.
HOLDER = """
import sys
from modelport.errors import LeaseLost
from modelport.state import StateStore
store = StateStore(sys.argv[1], ttl=float(sys.argv[2]))
store.acquire_lock(sys.argv[3], "modelport swap (the first machine)")
op = store.begin_operation(sys.argv[3], "swap", ["t"], "modelport swap", [{"op": "x"}, {"op": "y"}], {})
print(op, flush=True)
sys.stdin.readline()
try:
    store.step_done(op, 1)
    print("wrote", flush=True)
except LeaseLost as exc:
    print("fenced " + exc.message, flush=True)
"""

# Waits for a common start time, then tries to break the (stale) lock.
RACER = """
import sys, time
from modelport.errors import LockHeld
from modelport.state import StateStore
url, name, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
store = StateStore(url)
while time.time() < start:
    pass
try:
    store.acquire_lock(name, "racer", break_stale=True)
    print("won", flush=True)
except LockHeld as exc:
    print("lost " + exc.message, flush=True)
sys.stdin.read()
"""
