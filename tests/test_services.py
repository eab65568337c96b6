"""The generic fixtures and helper services really work: engine, base image, registries, CLI."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from base64 import b64encode
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import docker
import pytest

from moto_fixtures.services import DockerEngine, Registry
from moto_fixtures.services._procs import pid_alive

pytestmark = pytest.mark.timeout(600)

REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
])


def _tiny_image(client: docker.DockerClient, repository: str) -> str:
    """Import a one-file image (no base needed) as ``repository:<random tag>``."""
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as tar:
        data = uuid.uuid4().hex.encode()  # unique content, so every push uploads a new blob
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    tag = uuid.uuid4().hex[:10]
    client.api.import_image_from_data(payload.getvalue(), repository=repository, tag=tag)
    return f"{repository}:{tag}"


def _push(client: docker.DockerClient, ref: str, auth: dict | None = None) -> str:
    """Push ``ref``; return the manifest digest the engine reports, or raise with its error."""
    repository, tag = ref.rsplit(":", 1)
    digest = None
    for event in client.images.push(repository, tag, stream=True, decode=True, auth_config=auth):
        if "error" in event:
            raise RuntimeError(event["error"])
        digest = event.get("aux", {}).get("Digest", digest)
    assert digest, "push reported no digest"
    return digest


def _get(url: str, headers: dict | None = None) -> tuple[int, Message, bytes]:
    """GET ``url``; the headers mapping is case-insensitive."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def _basic(username: str, password: str) -> dict:
    return {"Authorization": "Basic " + b64encode(f"{username}:{password}".encode()).decode()}


def test_engine_answers_with_host_networking_only(docker_client):
    assert docker_client.ping() is True
    networks = {net.name for net in docker_client.networks.list()}
    assert "host" in networks
    assert "bridge" not in networks  # started with --bridge=none, as the environment requires


def test_base_image_runs_python_with_host_networking(docker_client, base_image):
    container = docker_client.containers.run(
        base_image, ["python3", "-c", "import sys; print(1+1, sys.version_info[:2])"],
        network_mode="host", detach=True)
    try:
        assert container.wait(timeout=120)["StatusCode"] == 0
        assert container.logs().decode().strip() == "2 (3, 11)"
    finally:
        container.remove(force=True)


def test_registry_serves_pushed_manifest_by_digest(docker_client, registry):
    ref = _tiny_image(docker_client, f"{registry.host}/tiny")
    try:
        digest = _push(docker_client, ref)
    finally:
        docker_client.images.remove(ref, force=True)
    status, headers, body = _get(f"{registry.url}/v2/tiny/manifests/{digest}",
                                 {"Accept": MANIFEST_TYPES})
    assert status == 200
    assert headers["Docker-Content-Digest"] == digest
    assert "sha256:" + hashlib.sha256(body).hexdigest() == digest


def test_two_registries_are_separate(docker_client, registry, registry_b):
    assert registry.host != registry_b.host
    ref = _tiny_image(docker_client, f"{registry.host}/only-in-a")
    try:
        digest = _push(docker_client, ref)
    finally:
        docker_client.images.remove(ref, force=True)
    assert _get(f"{registry_b.url}/v2/only-in-a/manifests/{digest}",
                {"Accept": MANIFEST_TYPES})[0] == 404


def test_auth_registry_refuses_anonymous_and_accepts_credentials(docker_client, auth_registry):
    status, headers, _ = _get(f"{auth_registry.url}/v2/")
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Basic")
    assert _get(f"{auth_registry.url}/v2/", _basic(auth_registry.username, "wrong"))[0] == 401
    assert _get(f"{auth_registry.url}/v2/",
                _basic(auth_registry.username, auth_registry.password))[0] == 200

    ref = _tiny_image(docker_client, f"{auth_registry.host}/private")
    try:
        with pytest.raises(RuntimeError, match="(?i)auth|denied|credentials"):
            _push(docker_client, ref)
        digest = _push(docker_client, ref, {"username": auth_registry.username,
                                            "password": auth_registry.password})
    finally:
        docker_client.images.remove(ref, force=True)
    url = f"{auth_registry.url}/v2/private/manifests/{digest}"
    assert _get(url, {"Accept": MANIFEST_TYPES})[0] == 401
    creds = _basic(auth_registry.username, auth_registry.password)
    assert _get(url, {"Accept": MANIFEST_TYPES, **creds})[0] == 200


class _Sink(BaseHTTPRequestHandler):
    """Collects the registry's notification envelopes."""

    events: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).events.extend(json.loads(body)["events"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_registry_notifications_reach_an_endpoint(docker_client, registry_factory):
    sink = type("Sink", (_Sink,), {"events": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        reg = registry_factory(notifications=[f"http://127.0.0.1:{server.server_port}/events"])
        ref = _tiny_image(docker_client, f"{reg.host}/notified")
        try:
            digest = _push(docker_client, ref)
        finally:
            docker_client.images.remove(ref, force=True)
        deadline = time.monotonic() + 60  # delivery is asynchronous; wait for it, then check
        while time.monotonic() < deadline and not _manifest_push(sink.events, digest):
            time.sleep(0.2)
        assert _manifest_push(sink.events, digest), sink.events
    finally:
        server.shutdown()
        server.server_close()


def _manifest_push(events: list[dict], digest: str) -> bool:
    return any(e["action"] == "push" and e["target"].get("digest") == digest
               and e["target"].get("repository") == "notified" for e in events)


def test_registry_stop_leaves_no_process_or_storage():
    reg = Registry().start()
    pid, url, storage = reg.pid, reg.url, reg.dir
    assert pid_alive(pid)
    reg.stop()
    assert not pid_alive(pid)
    assert not storage.exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/v2/", timeout=5)


def test_registry_dies_with_a_killed_parent():
    starter = subprocess.Popen(
        [sys.executable, "-c", "from moto_fixtures.services import Registry; import time; "
         "r = Registry().start(); print(r.pid, r.dir, flush=True); time.sleep(600)"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        pid_text, storage = starter.stdout.readline().split()
        pid = int(pid_text)
        assert pid_alive(pid)
    finally:
        starter.kill()  # no chance to clean up: the kernel must stop the registry
        starter.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    assert not pid_alive(pid)
    shutil.rmtree(storage)  # the registry died, its temp storage is ours to remove


def test_engine_stop_leaves_no_process(tmp_path):
    engine = DockerEngine(run_dir=tmp_path / "engine").start()
    pid = engine.pid
    children = _children(pid)
    assert children, "dockerd should run its own containerd"
    engine.stop()
    assert not pid_alive(pid)
    assert not [child for child in children if pid_alive(child)]
    assert not Path(engine.url.removeprefix("unix://")).exists()


def test_cli_up_writes_env_and_down_stops_it(tmp_path):
    run_dir = tmp_path / "run"
    cli = [sys.executable, "-m", "moto_fixtures.services"]
    subprocess.run([*cli, "up", "--run-dir", str(run_dir), "--no-base-image"],
                   cwd=REPO_ROOT, check=True, timeout=300)
    env = dict(line.removeprefix("export ").split("=", 1)
               for line in (run_dir / "env").read_text().splitlines())
    pid = int((run_dir / "engine.pid").read_text())
    try:
        assert env["DOCKER_HOST"].startswith("unix://")
        client = docker.DockerClient(base_url=env["DOCKER_HOST"])
        assert client.ping() is True
        client.close()
    finally:
        subprocess.run([*cli, "down", "--run-dir", str(run_dir)], cwd=REPO_ROOT, check=True,
                       timeout=120)
    assert not pid_alive(pid)
    assert not (run_dir / "services.json").exists()


def test_state_path_is_fresh(state_path):
    assert not state_path.exists()
    assert state_path.parent.is_dir()
    assert state_path.suffix == ".sqlite"


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    found = []
    for task in tasks.iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found
