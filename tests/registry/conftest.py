"""Fixtures for registry tests: two real local registries, a basic-auth one, a store, docker."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import uuid

import bcrypt
import pytest

from modelport.registry import OciStore

from .helpers import CountingProxy, Registry

BASE_IMAGE = "modelport-base:bookworm"

pytestmark = pytest.mark.timeout(300)


def _need_registry_binary() -> None:
    if shutil.which("docker-registry") is None:
        pytest.fail("docker-registry is not installed (apt-get install docker-registry)")


@pytest.fixture
def registry_a(tmp_path):
    _need_registry_binary()
    reg = Registry(tmp_path / "registry-a").start()
    yield reg
    reg.stop()


@pytest.fixture
def registry_b(tmp_path):
    _need_registry_binary()
    reg = Registry(tmp_path / "registry-b").start()
    yield reg
    reg.stop()


@pytest.fixture
def htpasswd_registry(tmp_path):
    """Factory: a registry with htpasswd auth for the given {username: password}."""
    _need_registry_binary()
    started = []

    def start(users: dict[str, str]) -> Registry:
        name = f"registry-auth-{len(started)}"
        htpasswd = tmp_path / f"{name}.htpasswd"
        htpasswd.write_text("".join(f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(5)).decode()}\n"
                                    for u, p in users.items()))
        reg = Registry(tmp_path / name, htpasswd=htpasswd).start()
        started.append(reg)
        return reg

    yield start
    for reg in started:
        reg.stop()


@pytest.fixture
def basic_registry(htpasswd_registry):
    """A registry with htpasswd auth; yields (registry, username, password)."""
    username, password = "ci-user", "pw-" + uuid.uuid4().hex
    return htpasswd_registry({username: password}), username, password


@pytest.fixture
def token_registry(tmp_path):
    """A registry using Bearer token auth from a local token service; yields (registry, server)."""
    from .token_server import TokenServer

    _need_registry_binary()
    server = TokenServer(tmp_path, "token-user", "tok-" + uuid.uuid4().hex)
    reg = Registry(tmp_path / "registry-token", auth=server.registry_auth_config()).start()
    yield reg, server
    reg.stop()
    server.close()


@pytest.fixture
def store(tmp_path):
    return OciStore(tmp_path / "oci")


@pytest.fixture
def proxy_to():
    """Factory: a counting TCP proxy in front of a registry; all closed at the end."""
    proxies = []

    def make(registry: Registry) -> CountingProxy:
        proxy = CountingProxy(registry.port)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


@pytest.fixture(scope="session")
def docker_client():
    import docker

    if not os.environ.get("DOCKER_HOST") and os.path.exists("/run/mpdev/docker.sock"):
        os.environ["DOCKER_HOST"] = "unix:///run/mpdev/docker.sock"
    client = docker.from_env()
    try:
        client.ping()
        client.images.get(BASE_IMAGE)
    except Exception as exc:  # no engine or no base image: these tests cannot run here
        message = f"Docker engine with {BASE_IMAGE} not available: {exc}"
        if os.environ.get("CI"):  # CI provides both; a skip there would hide a broken setup
            pytest.fail(message)
        pytest.skip(message)
    yield client
    client.close()


@pytest.fixture(scope="session")
def warm_store(docker_client, tmp_path_factory):
    """A store shared by the session, with the base image's layer already compressed once."""
    from modelport.registry import export_image

    store = OciStore(tmp_path_factory.mktemp("warm") / "oci")
    export_image(docker_client, BASE_IMAGE, store)
    return store


@pytest.fixture
def build_image(docker_client):
    """Factory: build a small multi-layer image FROM the base with given files (one layer each)."""
    built = []

    def build(files: dict[str, bytes]) -> str:
        tag = f"modelport-test/registry:{uuid.uuid4().hex[:12]}"
        lines = [f"FROM {BASE_IMAGE}"] + [f"COPY {name} /opt/test/{name}" for name in files]
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as tar:
            for name, data in {"Dockerfile": "\n".join(lines).encode(), **files}.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mtime = 0
                tar.addfile(info, io.BytesIO(data))
        context.seek(0)
        image, _ = docker_client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True,
                                              network_mode="host")
        built.append(tag)
        return tag

    yield build
    for tag in built:
        try:
            docker_client.images.remove(tag, force=True)
        except Exception:
            pass
