"""The Swarm provider: revisions are services, traffic is a label, all-at-once is a rolling update."""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Mapping

import httpx

from modelport.errors import CapabilityError, ProviderError, SpecError
from modelport.provider import (TAG_CONFIG, TAG_DEPLOYMENT, TAG_REVISION, Capabilities, Health, ImageRepository,
                                Observed, Provider, Resource, Revision, RevisionSpec, Size, Target)

from . import status
from .addresses import allocation_lock, choose
from .client import SwarmClient
from .settings import SwarmSettings
from .translate import L_ACTIVE, L_ADDRESS, L_PORT, L_TARGET, endpoint_host, image_for, service_spec


class SwarmProvider(Provider):
    """A revision is one replicated Swarm service on the host network; the deployment endpoint is
    the revision whose service carries the active label."""

    name = "swarm"
    description = "Docker Swarm (a revision is a service on the host network)"
    capabilities = Capabilities(
        traffic_split=False, gpu=False, needs_registry=False, in_place_update=True, revision_endpoints=True,
        notes="no weighted routing, so canary is refused: blue-green moves the endpoint to the new "
              "revision; all-at-once is Swarm's rolling update of the serving service. Images come "
              "from the manager's engine, or from targets.NAME.registry on multi-node swarms.")
    settings_model = SwarmSettings

    def __init__(self) -> None:
        self._clients: dict[str | None, SwarmClient] = {}

    def _swarm(self, target: Target) -> SwarmClient:
        host = target.settings.docker_host or os.environ.get("DOCKER_HOST")
        if host not in self._clients:
            self._clients[host] = SwarmClient(host)  # not cached when the engine does not answer
        return self._clients[host]

    # -- pure ---------------------------------------------------------------------------------------
    def fit_size(self, size: Size, target: Target) -> tuple[Size, list[str]]:
        if size.gpu:
            raise SpecError("", "resources.gpu", "the swarm provider does not schedule GPUs",
                            hint="remove resources.gpu or use a provider with GPUs")
        return size, []

    def translate(self, rev: RevisionSpec, target: Target) -> dict[str, Any]:
        return service_spec(rev, target.settings, target.name)

    def registry(self, target: Target, deployment: str) -> ImageRepository | None:
        if not target.settings.registry:
            return None
        return ImageRepository(f"{target.settings.registry}/{deployment}")

    # -- reads --------------------------------------------------------------------------------------
    def observe(self, target: Target, deployment: str) -> Observed:
        services = self._services(target, deployment)
        host = self._host_for(target)
        revisions = tuple(sorted((status.to_revision(s, host) for s in services), key=lambda r: r.created or ""))
        serving = status.active(services)
        if serving is None:
            return Observed(deployment, revisions)
        return Observed(deployment, revisions, {status.labels(serving)[TAG_REVISION]: 100},
                        status.endpoint(serving, host))

    def health(self, target: Target, deployment: str, revision: str) -> Health:
        service = self._service(target, deployment, revision)
        if service is None:
            return Health(False, self._missing(target, deployment, revision), failed=True)
        where = status.endpoint(service, self._host_for(target))
        tasks = self._swarm(target).tasks(service["ID"])
        mine = [t for t in tasks if _live(t) and status.task_revision(t) == revision]
        if not mine:
            failed, message = status.task_problem(tasks, revision, service.get("UpdatedAt"))
            return Health(False, f"no task of {revision} is running: {message}", where, failed=failed)
        older = [t for t in tasks if _live(t) and status.task_revision(t) != revision]
        if older:
            return Health(False, f"rolling update: {len(older)} task(s) of the previous revision still run", where)
        try:
            answer = httpx.get(f"{where}/v2/health/ready", timeout=3)
        except httpx.HTTPError as exc:
            return Health(False, f"{where} does not answer yet ({type(exc).__name__})", where)
        return Health(answer.status_code == 200, f"/v2/health/ready answered {answer.status_code}", where)

    def list_resources(self, target: Target) -> list[Resource]:
        services = self._swarm(target).services({L_TARGET: target.name, TAG_DEPLOYMENT: None})
        return [status.to_resource(s) for s in services]

    def logs(self, target: Target, deployment: str, revision: str | None, tail: int = 100) -> str:
        services = self._services(target, deployment)
        service = status.active(services) if revision is None else \
            next((s for s in services if status.labels(s).get(TAG_REVISION) == revision), None)
        if service is None:
            raise ProviderError(self.name, "read logs", f"no revision {revision or '(serving)'} of {deployment!r}")
        return self._swarm(target).logs(service["ID"], tail)

    # -- writes -------------------------------------------------------------------------------------
    def create_revision(self, target: Target, rev: RevisionSpec) -> Revision:
        swarm = self._swarm(target)
        existing = self._service(target, rev.deployment, rev.revision)
        if existing is not None:
            if status.labels(existing).get(TAG_CONFIG) == rev.config:
                return status.to_revision(existing, self._host_for(target))
            swarm.remove(existing["ID"])  # same name, other configuration: replace it
        image = self._image(target, rev)
        # an address is taken once a labelled service exists: choose and create under one lock
        with allocation_lock():
            taken = [(status.labels(s)[L_ADDRESS], status.labels(s)[L_PORT])
                     for s in swarm.services({L_ADDRESS: None, L_PORT: None})]
            address, port = choose(target.settings, rev.port, taken)
            service_id = swarm.create(service_spec(rev, target.settings, target.name, address, port, image,
                                                   reveal=True))
        return status.to_revision(swarm.inspect(service_id), self._host_for(target))

    def update_revision(self, target: Target, current: str, rev: RevisionSpec) -> Revision:
        """Swarm's rolling update of the service of ``current`` (stop-first: a node binds the
        address once), relabelled as ``rev``; it keeps its address, so the endpoint stays."""
        service = self._service(target, rev.deployment, current)
        if service is None:
            done = self._service(target, rev.deployment, rev.revision)
            if done is not None and status.labels(done).get(TAG_CONFIG) == rev.config:
                return status.to_revision(done, self._host_for(target))  # already updated
            raise ProviderError(self.name, "update revision", f"revision {current!r} of {rev.deployment!r} does not exist")
        old = status.labels(service)
        port = rev.port if target.settings.address == "loopback" and not target.settings.port_range else int(old[L_PORT])
        spec = service_spec(rev, target.settings, target.name, old[L_ADDRESS], port, self._image(target, rev),
                            reveal=True)
        labels = {**spec["labels"], **({L_ACTIVE: old[L_ACTIVE]} if L_ACTIVE in old else {})}
        self._retry(target, rev.deployment, current, lambda svc: self._swarm(target).update(svc, spec, labels))
        return status.to_revision(self._swarm(target).inspect(service["ID"]), self._host_for(target))

    def delete_revision(self, target: Target, deployment: str, revision: str) -> None:
        service = self._service(target, deployment, revision)
        if service is not None:
            self._swarm(target).remove(service["ID"])

    def set_traffic(self, target: Target, deployment: str, weights: Mapping[str, int]) -> None:
        live = {k: v for k, v in weights.items() if v}
        if len(live) != 1 or list(live.values()) != [100]:
            raise CapabilityError("the swarm provider cannot split traffic; send 100% to one revision")
        wanted = next(iter(live))
        services = self._services(target, deployment)
        if not any(status.labels(s).get(TAG_REVISION) == wanted for s in services):
            raise ProviderError(self.name, "set traffic", f"revision {wanted!r} of {deployment!r} does not exist")
        serving = status.active(services)
        if serving is None or status.labels(serving)[TAG_REVISION] != wanted:
            # mark the new one first: while a move is half done the newest mark wins
            mark = f"{time.time_ns():020d}"
            self._retry(target, deployment, wanted,
                        lambda svc: self._swarm(target).set_labels(svc, {**status.labels(svc), L_ACTIVE: mark}))
        for other in services:
            name = status.labels(other)[TAG_REVISION]
            if name != wanted and L_ACTIVE in status.labels(other):
                self._retry(target, deployment, name, lambda svc: self._swarm(target).set_labels(
                    svc, {k: v for k, v in status.labels(svc).items() if k != L_ACTIVE}))

    def destroy(self, target: Target, deployment: str) -> None:
        for service in self._services(target, deployment):
            self._swarm(target).remove(service["ID"])

    # -- helpers ------------------------------------------------------------------------------------
    def _services(self, target: Target, deployment: str) -> list[dict[str, Any]]:
        return self._swarm(target).services({TAG_DEPLOYMENT: deployment, L_TARGET: target.name})

    def _service(self, target: Target, deployment: str, revision: str) -> dict[str, Any] | None:
        found = self._swarm(target).services({TAG_DEPLOYMENT: deployment, L_TARGET: target.name,
                                              TAG_REVISION: revision})
        return max(found, key=lambda s: s.get("CreatedAt", "")) if found else None

    def _host_for(self, target: Target) -> Callable[[str], str]:
        return lambda address: endpoint_host(target.settings, address)

    def _image(self, target: Target, rev: RevisionSpec) -> str:
        """The image reference tasks run; without a registry the manager's engine must hold it."""
        image = image_for(rev, target.settings)
        if target.settings.registry:
            if not rev.image.ref:
                raise ProviderError(self.name, "create revision", f"image {rev.image.digest} was not pushed "
                                    f"to {target.settings.registry}")
            return image
        if self._swarm(target).has_image(image):
            return image
        if rev.image.ref:
            return rev.image.ref  # e.g. migrated from a registry-backed target: nodes pull it
        raise ProviderError(self.name, "create revision",
                            f"image {rev.image.digest} is not on the swarm manager's engine",
                            hint="build on the manager's engine, or set targets.NAME.registry")

    def _retry(self, target: Target, deployment: str, revision: str, change: Callable[[dict], None]) -> None:
        """Apply ``change`` to the revision's freshly read service; Swarm refuses an update based
        on a stale version ("update out of sequence"), so re-read and try again a few times."""
        for attempt in range(4):
            service = self._service(target, deployment, revision)
            if service is None:
                raise ProviderError(self.name, "update service", f"revision {revision!r} of {deployment!r} is gone")
            try:
                change(service)
                return
            except ProviderError as exc:
                if not exc.retryable or attempt == 3:
                    raise
                time.sleep(0.5 * (attempt + 1))

    def _missing(self, target: Target, deployment: str, revision: str) -> str:
        """Why a revision has no service: Swarm may have rolled a failed update back."""
        for service in self._services(target, deployment):
            update = service.get("UpdateStatus") or {}
            previous = (service.get("PreviousSpec") or {}).get("Labels") or {}
            if update.get("State", "").startswith("rollback") and previous.get(TAG_REVISION) == revision:
                return f"Swarm rolled the update to {revision} back: {update.get('Message', '')}"
        return f"revision {revision} has no service"


def _live(task: Mapping[str, Any]) -> bool:
    return task.get("DesiredState") == "running" and task["Status"].get("State") == "running"
