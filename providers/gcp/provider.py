"""The gcp provider: one Cloud Run service per deployment, one Cloud Run revision per modelport
revision, Cloud Run's native traffic split, images in Artifact Registry (or a registry override)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from modelport.errors import ProviderError, SpecError
from modelport.provider import (Capabilities, Health, ImageRepository, InfraChange, Observed, Provider,
                                Resource, Revision, RevisionSpec, Size, Target)

from . import reading, scaling, sizes
from . import translate as tr
from .settings import GcpSettings


class GcpProvider(Provider):
    """Deployments as Cloud Run services (Admin API v2)."""

    name = "gcp"
    description = "Google Cloud Run services (Admin API v2); images in Artifact Registry"
    capabilities = Capabilities(
        traffic_split=True, gpu=True, needs_registry=True, revision_endpoints=True,
        secret_schemes=(tr.SECRET_SCHEME,),
        # "Executables in the container image must be compiled for Linux 64-bit. Cloud Run
        # specifically supports the Linux x86_64 ABI format" (container runtime contract,
        # https://cloud.google.com/run/docs/reference/container-contract): linux/amd64 only
        platforms=("linux/amd64",),
        notes="revisions and traffic are Cloud Run's own; each revision is smoke-tested through "
              "its traffic tag (rN); GPU: one nvidia-l4 per instance; linux/amd64 images only")
    settings_model = GcpSettings

    def __init__(self) -> None:
        self._clients: dict[GcpSettings, Any] = {}
        self._auth: dict[GcpSettings, Any] = {}
        self._identity: Any = None  # IdentityTokens, made on first use

    def _cloud(self, target: Target):
        from .client import CloudRun

        settings = target.settings
        if settings not in self._clients:
            self._clients[settings] = CloudRun(settings)
        return self._clients[settings]

    # -- pure -------------------------------------------------------------------------------
    def fit_size(self, size: Size, target: Target) -> tuple[Size, list[str]]:
        return sizes.fit_size(size)

    def check_size(self, size: Size, target: Target) -> None:
        sizes.check_size(size)

    def check_spec(self, spec: Any, target: Target) -> None:
        r = spec.resources
        scaling.check_scaling(Size(r.cpu, r.memory, r.gpu, r.gpu_type), spec.scaling.concurrency, target.settings,
                              target.name)
        if self._needs_identity(target):  # a private service: modelport's own requests need an ID token
            from .identity import FIX, credentials_file_type, refusal

            reason = refusal(credentials_file_type())
            if reason:
                raise SpecError("", f"targets.{target.name}.public", reason, hint=FIX)

    def translate(self, rev: RevisionSpec, target: Target) -> dict[str, Any]:
        s = target.settings
        tr.check_tag(rev.deployment, rev.revision)
        return {"service": tr.service_name(s, rev.deployment), "ingress": tr.INGRESS[s.ingress],
                "invoker": "allUsers (public)" if s.public else "private (IAM)",
                **scaling.describe(rev, s), "template": tr.template(rev, s)}

    def registry(self, target: Target, deployment: str) -> ImageRepository | None:
        s = target.settings
        if s.registry:
            return ImageRepository(f"{s.registry.rstrip('/')}/{deployment}")
        repository = f"{s.region}-docker.pkg.dev/{s.project}/{s.repository}/{deployment}"
        if s.credentials == "anonymous":
            return ImageRepository(repository)
        if s not in self._auth:
            from .artifact_auth import GcpAuth
            from .client import credentials
            self._auth[s] = GcpAuth(credentials(s))
        return ImageRepository(repository, self._auth[s])

    # -- reads ------------------------------------------------------------------------------
    def _repository(self, target: Target):
        """The Artifact Registry repository to check, or None when it is not ours to manage: a
        registry override, anonymous access, or google-cloud-artifact-registry not installed
        (then the repository must exist; see the package docstring)."""
        from .client import ArtifactRegistry, artifact_registry_available

        s = target.settings
        if s.registry or s.credentials == "anonymous" or not artifact_registry_available():
            return None
        return ArtifactRegistry(s)

    def infrastructure_plan(self, target: Target, deployment: str, observed: Observed) -> list[InfraChange]:
        repository = self._repository(target)
        if repository is None or repository.exists():
            return []
        return [InfraChange("create", "artifact-registry-repository", repository.name())]

    def ensure_infrastructure(self, target: Target, deployment: str) -> None:
        repository = self._repository(target)
        if repository is not None and not repository.exists():
            repository.create()

    def _service(self, target: Target, deployment: str) -> dict[str, Any] | None:
        service = self._cloud(target).get_service(tr.service_name(target.settings, deployment))
        if service is not None and (service.get("labels") or {}).get(tr.L_DEPLOYMENT) != deployment:
            raise ProviderError("gcp", f"read service {deployment}", "a Cloud Run service with this name "
                                "exists but was not created by modelport (no modelport-deployment label)",
                                hint="rename the deployment (name = ...) or delete that service")
        return service

    def observe(self, target: Target, deployment: str) -> Observed:
        service = self._service(target, deployment)
        if service is None:
            return Observed(deployment)
        return reading.observed(service, self._cloud(target).list_revisions(service["name"]), deployment)

    def health(self, target: Target, deployment: str, revision: str) -> Health:
        service = self._service(target, deployment)
        if service is None:
            return Health(False, f"service {deployment} does not exist", failed=True)
        data = self._cloud(target).get_revision(self._revision_name(target, deployment, revision))
        health = reading.revision_health(data, service, revision)
        if health.ready and health.endpoint and service.get("uri"):  # a tag URL takes the service's token
            health = replace(health, headers={**health.headers, **self._identity_headers(target, service["uri"])})
        return health

    def endpoint_headers(self, target: Target, deployment: str) -> Mapping[str, str]:
        """An ID token for the service URL when the service is private and credentials are Google's."""
        if not self._needs_identity(target):
            return {}
        # read each time: a service deleted and created again may have another URL (an emulator's port)
        service = self._service(target, deployment)
        if service is None or not service.get("uri"):
            return {}
        return self._identity_headers(target, service["uri"])

    @staticmethod
    def _needs_identity(target: Target) -> bool:
        # public services take anyone; anonymous credentials (an emulator without IAM) have no identity
        return not target.settings.public and target.settings.credentials != "anonymous"

    def _identity_headers(self, target: Target, url: str) -> dict[str, str]:
        if not self._needs_identity(target):
            return {}
        if self._identity is None:
            from .identity import IdentityTokens

            self._identity = IdentityTokens()
        return self._identity.headers(url.rstrip("/"))

    def list_resources(self, target: Target) -> list[Resource]:
        cloud = self._cloud(target)
        out = []
        for service in cloud.list_services(tr.parent(target.settings)):
            deployment = (service.get("labels") or {}).get(tr.L_DEPLOYMENT)
            if not deployment:
                continue
            out.append(Resource("cloud-run-service", service["name"], deployment, extra={"uri": service.get("uri")}))
            for data in cloud.list_revisions(service["name"]):
                labels = data.get("labels") or {}
                if labels.get(tr.L_DEPLOYMENT) == deployment:
                    out.append(Resource("cloud-run-revision", data["name"], deployment, labels.get(tr.L_REVISION),
                                        reading.image_digest(data), {"config": labels.get(tr.L_CONFIG)}))
        return out

    # -- writes -----------------------------------------------------------------------------
    def create_revision(self, target: Target, rev: RevisionSpec) -> Revision:
        s, cloud = target.settings, self._cloud(target)
        name = tr.service_name(s, rev.deployment)
        full = self._revision_name(target, rev.deployment, rev.revision)
        service = self._service(target, rev.deployment)
        if service is not None:
            existing = cloud.get_revision(full)
            if existing is not None:
                if (existing.get("labels") or {}).get(tr.L_CONFIG) == rev.config:
                    # a repeated call (the engine retries this step) finishes what the first began
                    self._ensure_invoker(target, name)
                    return reading.to_revision(existing, rev.deployment, reading.tag_uris(service))
                self.delete_revision(target, rev.deployment, rev.revision)  # same name, other config
                service = self._service(target, rev.deployment)  # gone if that was its only revision
        try:
            if service is None:
                request = tr.service_request(rev, s, tr.traffic(rev.deployment, {rev.revision: 100}), reveal=True)
                service = cloud.create_service(tr.parent(s), rev.deployment, request)
            else:
                weights = reading.spec_weights(service, rev.deployment)
                tags = reading.tagged(service, rev.deployment) | {rev.revision}
                request = tr.service_request(rev, s, tr.traffic(rev.deployment, weights, tags), reveal=True)
                service = cloud.update_service(name, request)
        except ProviderError:
            # A revision that was created but failed to start is reported by health() (so the
            # gate names the reason and the engine rolls back); anything else is an error here.
            created = cloud.get_revision(full)
            if created is None or reading.condition(created).get("state") != reading.FAILED:
                raise
        self._ensure_invoker(target, name)
        data = cloud.get_revision(full)
        if data is None:
            raise ProviderError("gcp", f"create revision {rev.revision}", f"{full} was not created")
        return reading.to_revision(data, rev.deployment, reading.tag_uris(service or {}))

    def set_traffic(self, target: Target, deployment: str, weights: Mapping[str, int]) -> None:
        cloud = self._cloud(target)
        service = self._require_service(target, deployment, "set traffic")
        live = {k: int(v) for k, v in weights.items() if v}
        existing = self._revision_names(target, service, deployment)
        missing = sorted(set(live) - existing)
        if missing:
            raise ProviderError("gcp", "set traffic", f"revision(s) {', '.join(missing)} of {deployment} do not exist")
        tags = (reading.tagged(service, deployment) & existing) | set(live)
        wanted = tr.traffic(deployment, live, tags)
        if _same_traffic(service.get("traffic") or [], wanted):
            # Asked for already: by an earlier call whose reply was lost, maybe still being
            # applied. Done only once Cloud Run routes it (traffic_statuses), not when it is asked.
            updated = cloud.settled(service["name"]) or service
        else:
            updated = self._update_traffic(target, service["name"], wanted)
        serving = reading.traffic_of(updated, deployment)
        if serving != live:
            raise ProviderError("gcp", "set traffic", f"Cloud Run serves {serving} instead of {live}", retryable=True)

    def delete_revision(self, target: Target, deployment: str, revision: str) -> None:
        """Delete one revision. Cloud Run deletes only retired revisions: one that is neither
        the service's latest created revision nor named by its traffic. So the template is first
        moved back to the revision that serves (re-applied by name: Cloud Run adopts it, no new
        revision) and the revision's tag dropped, in one update; then it is deleted. Each part
        reads first, so a repeat after a lost reply or a crash finishes what is left."""
        cloud = self._cloud(target)
        service = self._service(target, deployment)
        full = self._revision_name(target, deployment, revision)
        if service is None or cloud.get_revision(full) is None:
            return
        revisions = cloud.list_revisions(service["name"])
        if {r["name"] for r in revisions} == {full}:
            cloud.delete_service(service["name"])  # its only revision: undoing a first deploy
            return
        share = reading.traffic_of(service, deployment).get(revision, 0)
        if share:
            raise ProviderError("gcp", f"delete revision {revision}", f"it serves {share}% of {deployment}'s "
                                "traffic", hint="move the traffic to another revision first")
        self._retire(target, service, revisions, deployment, revision)
        cloud.delete_revision(full)

    def _retire(self, target: Target, service: dict[str, Any], revisions: list[dict[str, Any]], deployment: str,
                revision: str) -> None:
        """Make ``revision`` retired: not the latest created (the template goes back to the
        revision that serves), not named by the traffic (its tag is dropped)."""
        full = self._revision_name(target, deployment, revision)
        update: dict[str, Any] = {}
        if service.get("latest_created_revision") == full:
            previous = reading.successor(service, revisions, full)
            update["template"] = reading.template_of(previous)
        spec = service.get("traffic") or []
        rid = tr.revision_id(deployment, revision)
        if any(reading.short_name(t.get("revision") or "") == rid for t in spec):
            kept = reading.tagged(service, deployment) - {revision}
            update["traffic"] = tr.traffic(deployment, reading.spec_weights(service, deployment), kept)
        if "template" in update:
            self._cloud(target).update_service(service["name"], update, fields=sorted(update))
        elif update:  # the traffic alone: tolerant of a latest revision that cannot start
            self._update_traffic(target, service["name"], update["traffic"])

    def destroy(self, target: Target, deployment: str) -> None:
        service = self._service(target, deployment)
        if service is not None:
            self._cloud(target).delete_service(service["name"])

    def delete_resource(self, target: Target, resource: Resource) -> None:
        if resource.kind == "cloud-run-service" and resource.deployment:
            self.destroy(target, resource.deployment)
        elif resource.deployment and resource.revision:
            self.delete_revision(target, resource.deployment, resource.revision)

    # -- helpers ----------------------------------------------------------------------------
    def _revision_name(self, target: Target, deployment: str, revision: str) -> str:
        return f"{tr.service_name(target.settings, deployment)}/revisions/{tr.revision_id(deployment, revision)}"

    def _require_service(self, target: Target, deployment: str, operation: str) -> dict[str, Any]:
        service = self._service(target, deployment)
        if service is None:
            raise ProviderError("gcp", operation, f"the Cloud Run service {deployment} does not exist")
        return service

    def _revision_names(self, target: Target, service: dict[str, Any], deployment: str) -> set[str]:
        return {tr.modelport_revision(r["name"], deployment) for r in self._cloud(target).list_revisions(service["name"])}

    def _update_traffic(self, target: Target, name: str, wanted: list[dict[str, Any]]) -> dict[str, Any]:
        """Update the traffic only. The operation also fails while the latest created revision
        cannot start (Cloud Run reports the service not ready) even though the routes were
        applied; then the routes Cloud Run serves decide, not the operation's error."""
        cloud = self._cloud(target)
        try:
            return cloud.update_service(name, {"traffic": wanted}, fields=["traffic"])
        except ProviderError:
            service = cloud.get_service(name)
            if service is None or not _same_traffic(service.get("traffic") or [], wanted) or not _routed(service, wanted):
                raise
            return service

    def _ensure_invoker(self, target: Target, name: str) -> None:
        """Public: allUsers may invoke; private: that binding is absent (read, then write if needed)."""
        cloud = self._cloud(target)
        policy = tr.invoker_policy(cloud.get_policy(name), target.settings.public)
        if policy is not None:
            cloud.set_policy(name, policy)


def _same_traffic(current: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> bool:
    def norm(entries):
        return sorted((e.get("revision", "").rsplit("/", 1)[-1], int(e.get("percent") or 0), e.get("tag") or "")
                      for e in entries)
    return norm(current) == norm(wanted) and all(
        e.get("type_") in (tr.REVISION_TRAFFIC, 2) for e in current)


def _routed(service: Mapping[str, Any], wanted: list[dict[str, Any]]) -> bool:
    """Do the serving routes (traffic_statuses) match the wanted percents?"""
    serving = {st.get("revision"): int(st.get("percent") or 0) for st in service.get("traffic_statuses") or []
               if st.get("percent")}
    return serving == {t["revision"]: t["percent"] for t in wanted if t["percent"]}
