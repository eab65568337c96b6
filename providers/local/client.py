"""The only file of the local provider that calls the Docker SDK."""

from __future__ import annotations

import fcntl
import ipaddress
import os
import socket
import tempfile
from contextlib import contextmanager
from typing import Any

from modelport.errors import ProviderError

LABEL = "io.modelport"
L_DEPLOYMENT, L_REVISION, L_DIGEST, L_CONFIG = (f"{LABEL}.deployment", f"{LABEL}.revision",
                                                f"{LABEL}.digest", f"{LABEL}.config")
L_ADDRESS, L_PORT, L_TARGET = f"{LABEL}.address", f"{LABEL}.port", f"{LABEL}.target"


class DockerClient:
    """A thin wrapper over the Docker SDK for one engine, mapping its errors to ProviderError."""

    def __init__(self, docker_host: str | None) -> None:
        import docker

        try:
            self.sdk = docker.DockerClient(base_url=docker_host) if docker_host else docker.from_env()
            self.sdk.ping()
        except Exception as exc:
            raise ProviderError("local", "connect to the Docker engine",
                                f"{docker_host or 'DOCKER_HOST/default socket'} does not answer ({type(exc).__name__})",
                                hint="start Docker or set DOCKER_HOST / targets.NAME.docker_host") from None

    def containers(self, target: str, deployment: str | None = None) -> list[Any]:
        labels = [f"{L_TARGET}={target}"]
        labels.append(f"{L_DEPLOYMENT}={deployment}" if deployment else L_DEPLOYMENT)
        # ignore_removed: the SDK inspects each listed container, and one removed in between (by
        # another modelport process on this engine) would fail the whole list with NotFound
        return self.sdk.containers.list(all=True, filters={"label": labels}, ignore_removed=True)

    def all_addresses(self) -> set[str]:
        used = set()
        # every deployment's containers on the engine: one removed meanwhile frees its address
        for c in self.sdk.containers.list(all=True, filters={"label": L_ADDRESS}, ignore_removed=True):
            used.add(c.labels.get(L_ADDRESS))
        return used

    def has_image(self, image_id: str) -> bool:
        import docker.errors

        try:
            self.sdk.images.get(image_id)
            return True
        except docker.errors.ImageNotFound:
            return False

    def pull(self, ref: str, auth: dict | None = None) -> None:
        try:
            self.sdk.images.pull(ref, auth_config=auth)
        except Exception as exc:
            raise ProviderError("local", "pull image", f"{ref}: {getattr(exc, 'explanation', None) or exc}") from None

    def run(self, name: str, image: str, env: dict[str, str], labels: dict[str, str],
            nano_cpus: int, mem_bytes: int) -> Any:
        import docker.errors

        try:
            return self.sdk.containers.run(
                image, ["serve"], name=name, detach=True, network_mode="host", environment=env,
                labels=labels, nano_cpus=nano_cpus or None, mem_limit=mem_bytes or None,
                restart_policy={"Name": "on-failure", "MaximumRetryCount": 3}, stop_signal="SIGTERM")
        except docker.errors.APIError as exc:
            raise ProviderError("local", "start container", exc.explanation or str(exc)) from None

    def remove(self, container: Any) -> None:
        import docker.errors

        try:
            container.stop(timeout=10)
        except docker.errors.APIError:
            pass
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass


def free_address(used: set[str], port: int) -> str:
    """The first 127.0.0.0/8 address (from 127.0.0.2) not used by a modelport container where
    ``port`` can be bound."""
    for host in ipaddress.ip_network("127.0.0.0/16").hosts():
        addr = str(host)
        if addr in ("127.0.0.1",) or addr in used:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((addr, port))
            except OSError:
                continue
        return addr
    raise ProviderError("local", "choose an address", "no free loopback address")


@contextmanager
def address_lock():
    """A machine-wide lock around choosing a loopback address and creating its container."""
    path = os.path.join(tempfile.gettempdir(), "modelport-local-addresses.lock")
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
