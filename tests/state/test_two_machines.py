"""Issue 18's "done means": two machines (own home folders, own hostnames through ``unshare -u``)
share one state store on PostgreSQL, S3 and Azure Blob and deploy to one cloud (the Cloud Run
emulator). One deploys, the other sees it in ``status`` and ``history``; while the first swaps,
the second's deploy fails fast naming it; the first is killed, its lease is never broken while
alive, and once it expired the second breaks the lock and resumes or aborts the swap.

On PostgreSQL the same store is then copied to S3 (``state migrate``) and rebuilt from the
cloud's tags into an empty store (``state import``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from modelport.errors import EXIT_LOCKED, EXIT_UNFINISHED
from modelport.state import RUNNING, StateStore
from tests.crash.checks import served_version
from tests.crash.clouds import gcp_cloud
from tests.providers.gcp.helpers import write_project

from .helpers import ttl_for

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1200)]


class Machine:
    """modelport as run on another machine: its own hostname, home and MODELPORT_HOME."""

    def __init__(self, host: str, root: Path, env: dict[str, str]) -> None:
        self.host = host
        home = root / host
        (home / "home").mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, **env, "HOME": str(home / "home"), "MODELPORT_HOME": str(home / "mp")}
        self.env.pop("XDG_STATE_HOME", None)

    def argv(self, *args: str) -> list[str]:
        return ["unshare", "-u", "sh", "-c", 'hostname "$0" && exec "$@"', self.host,
                sys.executable, "-m", "modelport", *args]

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """``modelport ARGS --output json`` on this machine."""
        return subprocess.run(self.argv(*args, "--output", "json"), env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen:
        """``modelport ARGS`` in the background."""
        return subprocess.Popen(self.argv(*args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)


@pytest.fixture(scope="module")
def machines_root(tmp_path_factory) -> Path:
    """Both machines' homes, kept for the module so each builds its images once."""
    return tmp_path_factory.mktemp("machines")


def _hold_revision(docker_host: str, revision: str) -> list:
    """Freeze the containers of the Cloud Run revision ``revision`` (``docker pause``): requests
    to it get no answer, so a swap gating it keeps polling (holding its live lease) until it is
    killed, however fast the machine is. Returns them, to unpause."""
    import docker

    from moto_fixtures.gcp.runtime import LABEL_REVISION

    client = docker.DockerClient(base_url=docker_host)
    found = [c for c in client.containers.list(filters={"label": LABEL_REVISION})
             if c.labels[LABEL_REVISION].rsplit("/", 1)[-1] == revision]
    assert found, f"no container runs revision {revision}"
    for container in found:
        container.pause()
    return found


def _wait_mid_operation(store: StateStore, name: str, proc: subprocess.Popen) -> int:
    """Wait until ``proc``'s swap journaled the new revision's creation (so it is killed while it
    gates it: between cloud calls, and after the push, which the other machine could not redo
    without the image only the first one built); its operation id."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        running = [o for o in store.operations(name) if o.status == RUNNING and o.kind == "swap"]
        if running:
            op = running[-1]
            created = 1 + max((i for i, s in enumerate(op.plan) if s["op"] == "create_revision"), default=0)
            if op.done >= created:
                return op.id
        assert proc.poll() is None, f"the swap ended before it was killed: {proc.communicate()}"
        time.sleep(0.2)
    raise AssertionError("the swap never got going")


@pytest.mark.parametrize("kind, resolution", [("postgresql", "resume"), ("s3", "abort"), ("azblob", "resume")])
def test_two_machines_share_one_state(kind, resolution, state_factory, machines_root, gcp_emulator, registry,
                                      tmp_path, docker_host, base_image, monkeypatch):
    state = state_factory(kind)
    for key, value in state.env.items():
        monkeypatch.setenv(key, value)  # the test's own view of the store
    # long enough that the second machine's next command starts well before it ends, on a busy machine
    ttl = ttl_for(kind, 20.0)
    env = {**state.env, "MODELPORT_STATE": state.url, "MODELPORT_LOCK_TTL": str(ttl), "DOCKER_HOST": docker_host}
    one, two = Machine("machine-one", machines_root, env), Machine("machine-two", machines_root, env)
    name = f"tm{uuid.uuid4().hex[:6]}"
    targets = {"cloud": gcp_cloud(gcp_emulator.endpoint, registry.host).settings}
    v1 = write_project(tmp_path / "v1", "1", name, targets)
    v2 = write_project(tmp_path / "v2", "2", name, targets)
    store = StateStore(state.url)  # the test's own view of the shared store
    try:
        # one deploys; the other sees it in status and history
        deployed = one.run("deploy", str(v1), "--to", "cloud")
        assert deployed.returncode == 0, deployed.stderr[-2000:]
        seen = two.run("status", name)
        assert seen.returncode == 0, seen.stderr[-1500:]
        (row,) = json.loads(seen.stdout)["deployments"]
        assert row["revisions"] and row["endpoint"] and served_version(row["endpoint"]) == "1"
        history = json.loads(two.run("history", name).stdout)
        assert [o["kind"] for o in history["operations"]] == ["deploy"]
        assert "on machine-one" in history["operations"][0]["holder"]

        # while one swaps, the other's deploy fails fast naming it; a live lease is never broken
        swap = one.start("swap", str(v2), "--to", "cloud", "--strategy", "blue-green")
        op = _wait_mid_operation(store, name, swap)
        held = _hold_revision(docker_host, f"{name}-r2")  # the swap gates r2 until it is killed
        for extra in ((), ("--break-lock",)):
            refused = two.run("deploy", str(v2), "--to", "cloud", *extra, timeout=120)
            assert refused.returncode == EXIT_LOCKED and swap.poll() is None, refused.stderr
            error = json.loads(refused.stdout)
            assert error["error"] == "LockHeld" and "modelport swap" in error["message"]
            assert f"on machine-one) as" in error["message"], error

        # one is killed: its lease outlives it until it expires, and only then can two take over
        os.kill(swap.pid, signal.SIGKILL)
        swap.wait()
        for container in held:
            container.unpause()  # r2 answers again: a resume's gate can pass
        early = two.run(resolution, name, timeout=120)
        assert early.returncode == EXIT_LOCKED and "machine-one" in early.stdout, early.stdout + early.stderr
        deadline = time.monotonic() + ttl * 3 + 30
        while not store.lock_holder(name).expired:
            assert time.monotonic() < deadline, store.lock_holder(name)
            time.sleep(0.5)
        probe = two.run("deploy", str(v2), "--to", "cloud", "--break-lock", timeout=120)
        assert probe.returncode == EXIT_UNFINISHED and f"modelport {resolution} {name}" in probe.stdout + probe.stderr
        settled = two.run(resolution, name)
        assert settled.returncode == 0, settled.stderr[-2000:]

        after = store.operation(op)
        assert after.status == ("succeeded" if resolution == "resume" else "aborted") and after.host == "machine-two"
        assert store.lock_holder(name) is None and store.unfinished(name) is None
        status = json.loads(two.run("status", name).stdout)["deployments"][0]
        assert served_version(status["endpoint"]) == ("2" if resolution == "resume" else "1")
        assert not status["drift"], status
        if kind == "postgresql":
            serving = v2 if resolution == "resume" else v1
            _migrate_and_import(two, state.url, state_factory("s3"), tmp_path, name, serving, status, monkeypatch)
    finally:
        destroyed = two.run("destroy", name, "--to", "cloud", "--spec", str(v1))
        assert destroyed.returncode == 0 or store.unfinished(name), destroyed.stderr[-1500:]


def _migrate_and_import(machine: Machine, url: str, s3, tmp_path: Path, name: str, spec: Path, status: dict,
                        monkeypatch) -> None:
    """The shared store moves to S3 with its history; a lost store is rebuilt from the tags."""
    env = {**machine.env, **s3.env}
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)  # this process reads the copy too
    moved = subprocess.run(machine.argv("state", "migrate", "--to", s3.url, "--output", "json"), env=env,
                           capture_output=True, text=True, timeout=300)
    assert moved.returncode == 0, moved.stderr
    source, dest = StateStore(url), StateStore(s3.url)
    for read in (lambda s: [o.to_dict() for o in s.operations(name)], lambda s: s.revisions(name),
                 lambda s: s.deployments(name), lambda s: [(e["kind"], e["message"]) for e in s.events(name)]):
        assert read(source) == read(dest)
    again = subprocess.run(machine.argv("state", "migrate", "--to", s3.url), env=env, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 2 and "already holds state" in again.stderr
    fresh = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    rebuilt = subprocess.run(machine.argv("--state", fresh, "state", "import", str(spec), "--to", "cloud",
                                          "--output", "json"), env=machine.env, capture_output=True, text=True,
                             timeout=300)
    assert rebuilt.returncode == 0, rebuilt.stderr
    (entry,) = [e for e in json.loads(rebuilt.stdout)["imported"] if e["name"] == name]
    assert entry["imported"] and entry["traffic"] == status["traffic"]
    row = StateStore(fresh).deployments(name, "cloud")[0]
    assert (row["revision"], row["endpoint"]) == (entry["revision"], status["endpoint"])
    recorded = {r["revision"]: r for r in StateStore(fresh).revisions(name, "cloud")}
    assert sorted(recorded) == sorted(r["name"] for r in status["revisions"])
    assert all(recorded[r["name"]]["digest"] == r["digest"] for r in status["revisions"])
    assert recorded[entry["revision"]]["spec"] is not None  # the spec reproduces the serving revision
