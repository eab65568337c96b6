"""Fixtures of modelport-swarm's own tests: a Docker engine in swarm mode and the conformance target.

The engine is ``DOCKER_HOST`` (or the default socket). When it is not in swarm mode the session
initialises a single-node swarm (listening on 127.0.0.1 only) and leaves it at the end; a swarm
that was already there is left alone. Every service a test creates is removed at the end.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Iterator

import docker
import pytest

from swarm_testing import BASE_IMAGE, plugins

pytest_plugins = ["modelport.testing.pytest_plugin"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def swarm_engine() -> Iterator[docker.DockerClient]:
    """A Docker client on a swarm manager (the swarm is initialised here when needed)."""
    client = docker.from_env(timeout=120)
    try:
        swarm = client.info().get("Swarm") or {}
    except Exception as exc:  # the suite tests a Swarm provider: without an engine it cannot run
        pytest.fail(f"no Docker engine at {os.environ.get('DOCKER_HOST') or 'the default socket'}: {exc}")
    initialised = swarm.get("LocalNodeState") != "active"
    if initialised:
        # a private port: another engine on this machine may already be a swarm on 2377
        addr = f"127.0.0.1:{_free_port()}"
        client.swarm.init(advertise_addr=addr, listen_addr=addr)
    try:
        client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"the engine has no {BASE_IMAGE} (set MODELPORT_BASE_IMAGE to a Python 3.11 image it has)")
    try:
        yield client
    finally:
        if initialised:
            client.swarm.leave(force=True)
        client.close()


@pytest.fixture(scope="session")
def conformance_target(swarm_engine):
    """The swarm target the modelport conformance suite runs against."""
    # imported here, after pytest_plugins registered the suite's modules for assert rewriting
    from modelport.testing.conformance import ConformanceTarget

    yield ConformanceTarget(
        settings={"provider": "swarm", "reserve": 0.1},
        bad_settings={"provider": "swarm", "docker_host": "unix:///nonexistent.sock"},
        # a second target on the same swarm (migrate between them): its own address range
        peer_settings={"provider": "swarm", "reserve": 0.1, "loopback_range": "127.2.0.0/16"},
        base_image=BASE_IMAGE,
        resources={"cpu": 0.5, "memory": "512Mi"},
        impossible_resources={"cpu": 1, "memory": "1Gi", "gpu": 1},
        plugins=plugins(),
        gate_timeout=180.0,
    )


@pytest.fixture(scope="session")
def target_name(swarm_engine) -> Iterator[str]:
    """A target name unique to this session; its services are removed at the end."""
    name = f"t{uuid.uuid4().hex[:6]}"
    yield name
    for service in swarm_engine.services.list(filters={"label": f"modelport:target={name}"}):
        service.remove()
