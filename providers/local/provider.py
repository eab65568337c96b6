"""The local provider: Spec -> containers on the Docker engine, and its traffic record."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

import httpx
from pydantic import BaseModel, ConfigDict, Field

from modelport.errors import CapabilityError, ProviderError
from modelport.provider import (Capabilities, Health, ImageRepository, Observed, Provider, Resource, Revision,
                                RevisionSpec, Target)

from .client import (L_ADDRESS, L_CONFIG, L_DEPLOYMENT, L_DIGEST, L_PORT, L_REVISION, L_TARGET,
                     DockerClient, address_lock, free_address)


class LocalSettings(BaseModel):
    """``[targets.NAME]`` keys for ``provider = "local"``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    docker_host: str | None = Field(None, description="Docker engine URL (default: DOCKER_HOST or the default socket).")
    registry: str | None = Field(None, description="Optional registry repository (host/path) images are pushed to and pulled from.")


class LocalProvider(Provider):
    """Revisions are containers; the endpoint is the revision holding all traffic."""

    name = "local"
    description = "This machine's Docker engine (containers on loopback addresses)"
    capabilities = Capabilities(traffic_split=False, gpu=False, needs_registry=False,
                                revision_endpoints=True,
                                notes="no traffic split: blue-green switches the endpoint")
    settings_model = LocalSettings

    def __init__(self) -> None:
        self._clients: dict[str | None, DockerClient] = {}

    def _docker(self, target: Target) -> DockerClient:
        host = target.settings.docker_host or os.environ.get("DOCKER_HOST")
        if host not in self._clients:
            self._clients[host] = DockerClient(host)
        return self._clients[host]

    # -- pure -------------------------------------------------------------------------------
    def translate(self, rev: RevisionSpec, target: Target) -> dict[str, Any]:
        return {"container": f"mp-{target.name}-{rev.deployment}-{rev.revision}",
                "image": rev.image.image_id, "digest": rev.image.digest,
                "cpu": rev.size.cpu, "memory_mib": rev.size.memory_mib, "port": rev.port,
                "env": sorted(rev.env), "secrets": sorted(rev.secrets)}

    def registry(self, target: Target, deployment: str) -> ImageRepository | None:
        if not target.settings.registry:
            return None
        return ImageRepository(f"{target.settings.registry.rstrip('/')}/{deployment}")

    # -- reads ------------------------------------------------------------------------------
    def observe(self, target: Target, deployment: str) -> Observed:
        containers = self._docker(target).containers(target.name, deployment)
        revisions = tuple(sorted((_to_revision(c) for c in containers), key=lambda r: r.created or ""))
        traffic = {k: v for k, v in self._read_traffic(target, deployment).items()
                   if any(r.name == k for r in revisions)}
        active = next((r for r in revisions if traffic.get(r.name) == 100), None)
        return Observed(deployment, revisions, traffic, active.endpoint if active else None)

    def health(self, target: Target, deployment: str, revision: str) -> Health:
        container = self._container(target, deployment, revision)
        if container is None:
            return Health(False, f"revision {revision} has no container", failed=True)
        endpoint = _endpoint(container)
        state = container.attrs["State"]
        if state.get("Status") in ("exited", "dead") and not state.get("Restarting"):
            logs = container.logs(tail=5).decode(errors="replace").strip().splitlines()
            return Health(False, f"container exited with code {state.get('ExitCode')}: "
                                 f"{logs[-1] if logs else 'no output'}", endpoint, failed=True)
        try:
            answer = httpx.get(f"{endpoint}/v2/health/ready", timeout=2)
        except httpx.HTTPError as exc:
            return Health(False, f"not answering yet ({type(exc).__name__})", endpoint)
        return Health(answer.status_code == 200, f"/v2/health/ready answered {answer.status_code}", endpoint)

    def list_resources(self, target: Target) -> list[Resource]:
        return [Resource("container", c.name, c.labels.get(L_DEPLOYMENT), c.labels.get(L_REVISION),
                         c.labels.get(L_DIGEST), {"status": c.status})
                for c in self._docker(target).containers(target.name)]

    def logs(self, target: Target, deployment: str, revision: str | None, tail: int = 100) -> str:
        observed = self.observe(target, deployment)
        name = revision or next((k for k, v in observed.traffic.items() if v == 100), None)
        container = self._container(target, deployment, name) if name else None
        if container is None:
            raise ProviderError("local", "read logs", f"no revision {name!r} of {deployment!r}")
        return container.logs(tail=tail).decode(errors="replace")

    # -- writes -----------------------------------------------------------------------------
    def create_revision(self, target: Target, rev: RevisionSpec) -> Revision:
        docker = self._docker(target)
        existing = self._container(target, rev.deployment, rev.revision)
        if existing is not None:
            if existing.labels.get(L_CONFIG) == rev.config:
                return _to_revision(existing)
            docker.remove(existing)
        if not docker.has_image(rev.image.image_id):
            if not rev.image.ref:
                raise ProviderError("local", "create revision",
                                    f"image {rev.image.digest} is not on this engine and has no registry reference")
            docker.pull(rev.image.ref)
        # the address is taken once a labelled container exists: choose and create under a lock
        # so two modelport processes never pick the same one
        with address_lock():
            address = free_address(docker.all_addresses(), rev.port)
            env = {**rev.env, **rev.secret_values, "MODELPORT_HOST": address, "PORT": str(rev.port)}
            labels = {L_TARGET: target.name, L_DEPLOYMENT: rev.deployment, L_REVISION: rev.revision,
                      L_DIGEST: rev.image.digest, L_CONFIG: rev.config, L_ADDRESS: address,
                      L_PORT: str(rev.port), "io.modelport.model.version": rev.model_version}
            container = docker.run(f"mp-{target.name}-{rev.deployment}-{rev.revision}", rev.image.image_id,
                                   env, labels, int(rev.size.cpu * 1e9), rev.size.memory_mib * 1024 * 1024)
        container.reload()
        return _to_revision(container)

    def delete_revision(self, target: Target, deployment: str, revision: str) -> None:
        container = self._container(target, deployment, revision)
        if container is not None:
            self._docker(target).remove(container)
        traffic = self._read_traffic(target, deployment)
        if revision in traffic:
            traffic.pop(revision)
            self._write_traffic(target, deployment, traffic)

    def set_traffic(self, target: Target, deployment: str, weights: Mapping[str, int]) -> None:
        live = {k: v for k, v in weights.items() if v}
        if len(live) != 1 or list(live.values()) != [100]:
            raise CapabilityError("the local provider cannot split traffic; send 100% to one revision")
        revision = next(iter(live))
        if self._container(target, deployment, revision) is None:
            raise ProviderError("local", "set traffic", f"revision {revision!r} does not exist")
        self._write_traffic(target, deployment, {revision: 100})

    def destroy(self, target: Target, deployment: str) -> None:
        for container in self._docker(target).containers(target.name, deployment):
            self._docker(target).remove(container)
        self._traffic_file(target, deployment).unlink(missing_ok=True)

    # -- helpers ----------------------------------------------------------------------------
    def _container(self, target: Target, deployment: str, revision: str):
        for c in self._docker(target).containers(target.name, deployment):
            if c.labels.get(L_REVISION) == revision:
                return c
        return None

    def _traffic_file(self, target: Target, deployment: str) -> Path:
        # The engine keeps containers but no mutable routing record, so the local "cloud" keeps
        # traffic in a small file per engine, next to the user's data, not in modelport's state.
        engine = target.settings.docker_host or os.environ.get("DOCKER_HOST") or "default"
        key = hashlib.sha256(engine.encode()).hexdigest()[:12]
        base = Path(os.environ.get("MODELPORT_HOME", Path.home() / ".cache" / "modelport"))
        return base / "local-traffic" / key / f"{target.name}.{deployment}.json"

    def _read_traffic(self, target: Target, deployment: str) -> dict[str, int]:
        try:
            return json.loads(self._traffic_file(target, deployment).read_text())
        except FileNotFoundError:
            return {}

    def _write_traffic(self, target: Target, deployment: str, traffic: dict[str, int]) -> None:
        path = self._traffic_file(target, deployment)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(traffic))
        os.replace(tmp, path)


def _endpoint(container) -> str:
    return f"http://{container.labels[L_ADDRESS]}:{container.labels[L_PORT]}"


def _to_revision(container) -> Revision:
    labels = container.labels
    state = container.attrs.get("State", {})
    return Revision(name=labels[L_REVISION], digest=labels.get(L_DIGEST, ""), config=labels.get(L_CONFIG, ""),
                    ready=state.get("Running", False), endpoint=_endpoint(container),
                    created=container.attrs.get("Created"),
                    extra={"container": container.name, "status": container.status,
                           "model_version": labels.get("io.modelport.model.version")})
