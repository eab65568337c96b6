"""Operations killed with SIGKILL at journal steps are found by the next command and can be
resumed or aborted, leaving no orphaned container; a second process fails fast on the lock."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import make_project

MODELPORT = [sys.executable, "-m", "modelport"]


def cli(*args, env, check=True, timeout=600):
    proc = subprocess.run([*MODELPORT, *args, "--output", "json"], capture_output=True, text=True,
                          env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def running_done(db: Path) -> int | None:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            row = conn.execute("SELECT done FROM operations WHERE status='running' ORDER BY id DESC").fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


def kill_at(args, env, db: Path, done: int) -> int:
    """Start a command, SIGKILL it once its running operation has finished ``done`` steps."""
    proc = subprocess.Popen([*MODELPORT, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            reached = running_done(db)
            if reached is not None and reached >= done:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return reached
            if proc.poll() is not None:
                raise AssertionError(f"{args} finished (exit {proc.returncode}) before step {done}")
            time.sleep(0.01)
        raise AssertionError("timed out waiting for the operation")
    finally:
        if proc.poll() is None:
            proc.kill()


def containers(docker_client, name):
    return sorted(c.labels["io.modelport.revision"] for c in docker_client.containers.list(
        all=True, filters={"label": f"io.modelport.deployment={name}"}))


def serves_version(endpoint: str) -> str:
    sample = json.loads(Path(__file__).resolve().parents[2].joinpath("examples/iris/sample.json").read_text())
    reply = httpx.post(f"{endpoint}/v2/models/iris/infer", json=sample, timeout=30).json()
    return reply["model_version"]


@pytest.fixture
def env(tmp_path, docker_host, base_image, modelport_home):
    return {**os.environ, "MODELPORT_STATE": str(tmp_path / "state.db"), "DOCKER_HOST": docker_host,
            "MODELPORT_HOME": str(modelport_home)}


def test_killed_swap_is_resumed_or_aborted(tmp_path, env, docker_client, unique_name, cleanup):
    cleanup.append(unique_name)
    db = tmp_path / "state.db"
    v1 = make_project(tmp_path / "v1", "iris", unique_name)
    v2 = make_project(tmp_path / "v2", "iris-v2", unique_name)
    cli("deploy", str(v1), "--to", "dev", env=env)
    cli("build", str(v2), env=env)  # so the swap reaches its journal quickly
    points = set()
    # blue-green swap steps: create r, gate r, traffic, gate endpoint, record
    for i, done in enumerate([0, 1, 2, 3]):
        reached = kill_at(["swap", str(v2), "--to", "dev", "--strategy", "blue-green"], env, db, done)
        points.add(reached)
        blocked = cli("deploy", str(v1), "--to", "dev", env=env, check=False)
        assert blocked.returncode == 1
        assert "interrupted" in blocked.stderr and f"modelport resume {unique_name}" in blocked.stderr
        if i % 2 == 0:
            cli("abort", unique_name, env=env)
            status = json.loads(cli("status", unique_name, env=env).stdout)["deployments"][0]
            current = next(k for k, v in status["traffic"].items() if v == 100)
            assert serves_version(status["endpoint"]) in ("1.0.0", "2.0.0")
            assert containers(docker_client, unique_name) == sorted(r["name"] for r in status["revisions"])
            assert current in containers(docker_client, unique_name)
        else:
            out = json.loads(cli("resume", unique_name, env=env).stdout)
            assert out["status"] == "succeeded"
            assert serves_version(out["endpoint"]) == "2.0.0"
        # back to v1 on one revision for the next round
        cli("deploy", str(v1), "--to", "dev", "--strategy", "all-at-once", env=env)
        status = json.loads(cli("status", unique_name, env=env).stdout)["deployments"][0]
        assert serves_version(status["endpoint"]) == "1.0.0"
    assert len(points) >= 3, f"kill points reached: {sorted(points)}"
    history = json.loads(cli("history", unique_name, env=env).stdout)
    assert {"aborted", "succeeded"} <= {o["status"] for o in history["operations"]}


def test_second_process_fails_fast_on_lock(tmp_path, env, unique_name, cleanup):
    cleanup.append(unique_name)
    v1 = make_project(tmp_path / "v1", "iris", unique_name)
    cli("build", str(v1), env=env)
    first = subprocess.Popen([*MODELPORT, "deploy", str(v1), "--to", "dev"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while running_done(tmp_path / "state.db") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        second = cli("deploy", str(v1), "--to", "dev", env=env, check=False)
        assert second.returncode == 1
        assert "locked by modelport deploy" in second.stderr and f"pid {first.pid}" in second.stderr
        assert time.monotonic() - started < 60
    finally:
        first.wait(timeout=300)
    assert first.returncode == 0
