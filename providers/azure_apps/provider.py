"""The azure-apps provider: one Container App per deployment (Multiple revision mode), revision
``rN`` = the revision labelled ``rN``, traffic = the app's weighted traffic rules."""

from __future__ import annotations

from typing import Any, Mapping

from modelport.errors import ProviderError
from modelport.provider import (Capabilities, Health, ImageRepository, InfraChange, Observed, Provider, Resource,
                                Revision, RevisionSpec, Size, Target)

from . import reading, rules, sizes
from . import translate as tr
from .settings import AzureAppsSettings

NAME = "azure-apps"


class AzureAppsProvider(Provider):
    """Deployments as Azure Container Apps (ARM api-version 2026-07-01)."""

    name = NAME
    description = "Azure Container Apps (revisions, weighted traffic, labels, HTTPS ingress); images in ACR"
    capabilities = Capabilities(
        traffic_split=True, gpu=False, needs_registry=True, revision_endpoints=True,
        secret_schemes=(tr.SECRET_SCHEME,), platforms=("linux/amd64",),
        notes="one container app per deployment in Multiple revision mode; revision rN carries the traffic "
              "label rN and is smoke-tested at its label URL; HTTP concurrency scaling, min 0 allowed; "
              "secrets as app secrets or Key Vault references (azure-kv:); linux/amd64 images only")
    settings_model = AzureAppsSettings

    def __init__(self) -> None:
        self._clients: dict[AzureAppsSettings, Any] = {}
        self._static_ips: dict[AzureAppsSettings, str | None] = {}

    def _cloud(self, target: Target):
        from .client import ContainerApps

        if target.settings not in self._clients:
            self._clients[target.settings] = ContainerApps(target.settings)
        return self._clients[target.settings]

    @staticmethod
    def _environment_id(s: AzureAppsSettings) -> str:
        return (f"/subscriptions/{s.subscription_id}/resourceGroups/{s.resource_group}/providers/"
                f"Microsoft.App/managedEnvironments/{s.environment}")

    def _static_ip(self, target: Target) -> str | None:
        s = target.settings
        if not s.via_static_ip:
            return None
        if not self._static_ips.get(s):
            env = self._cloud(target).get_environment()
            self._static_ips[s] = reading.static_ip(env)
        return self._static_ips[s]

    # -- pure -------------------------------------------------------------------------------
    def fit_size(self, size: Size, target: Target) -> tuple[Size, list[str]]:
        return sizes.fit_size(size, target.settings.workload_profiles)

    def check_size(self, size: Size, target: Target) -> None:
        sizes.check_size(size, target.settings.workload_profiles)

    def check_spec(self, spec: Any, target: Target) -> None:
        rules.check_spec(spec)

    def translate(self, rev: RevisionSpec, target: Target) -> dict[str, Any]:
        s = target.settings
        return {"container_app": f"{s.resource_group}/{tr.app_name(rev.deployment)}",
                "revision": tr.revision_name(rev), "label": rev.revision,
                "environment": self._environment_id(s),
                "scaling": rules.scaling_note(rev.min_instances, rev.max_instances, rev.concurrency),
                **tr.app_body(rev, s, self._environment_id(s), [])}

    def registry(self, target: Target, deployment: str) -> ImageRepository | None:
        return ImageRepository(f"{target.settings.registry.rstrip('/')}/{deployment}")

    # -- reads ------------------------------------------------------------------------------
    def _app(self, target: Target, deployment: str) -> dict[str, Any] | None:
        app = self._cloud(target).get_app(tr.app_name(deployment))
        if app is not None and (app.get("tags") or {}).get(tr.TAG_DEPLOYMENT) != deployment:
            raise ProviderError(NAME, f"read container app {deployment}", "a container app with this name exists "
                                "but was not created by modelport (no modelport:deployment tag)",
                                hint="rename the deployment (name = ...) or delete that app")
        return app

    def _state(self, target: Target, deployment: str):
        app = self._app(target, deployment)
        revisions = self._cloud(target).list_revisions(app["name"]) if app else []
        return app, revisions

    def observe(self, target: Target, deployment: str) -> Observed:
        app, revisions = self._state(target, deployment)
        return reading.observed(app, revisions, deployment, target.settings, self._static_ip(target))

    def infrastructure_plan(self, target: Target, deployment: str, observed: Observed) -> list[InfraChange]:
        s = target.settings
        if s.create_environment and self._cloud(target).get_environment() is None:
            return [InfraChange("create", "managed-environment", s.environment)]
        return []

    def ensure_infrastructure(self, target: Target, deployment: str) -> None:
        cloud, s = self._cloud(target), target.settings
        if cloud.get_environment() is not None:
            return
        if not s.create_environment:
            raise ProviderError(NAME, "ensure infrastructure", f"managed environment {s.environment} does not exist",
                                hint="create it (az containerapp env create) or set create_environment = true")
        cloud.create_environment()

    def endpoint_headers(self, target: Target, deployment: str) -> Mapping[str, str]:
        if not target.settings.via_static_ip:
            return {}
        app = self._app(target, deployment)
        return reading.headers(reading.host(app), target.settings) if app else {}

    def health(self, target: Target, deployment: str, revision: str) -> Health:
        app, revisions = self._state(target, deployment)
        return reading.health(app, revisions, revision, target.settings, self._static_ip(target))

    def list_resources(self, target: Target) -> list[Resource]:
        out = []
        for app in self._cloud(target).list_apps():
            deployment = (app.get("tags") or {}).get(tr.TAG_DEPLOYMENT)
            if not deployment:
                continue
            out.append(Resource("container-app", app["id"], deployment, extra={"app": app["name"]}))
            revisions = {r["name"].lower(): r for r in self._cloud(target).list_revisions(app["name"])}
            for label, name in reading.labelled(app).items():
                found = revisions.get(name.lower())
                if found is not None:
                    out.append(Resource("container-app-revision", found["id"], deployment, label,
                                        reading.digest(found) or None,
                                        {"revision_name": name, "config": reading.env_value(found, tr.ENV_CONFIG)}))
        return out

    def logs(self, target: Target, deployment: str, revision: str | None, tail: int = 100) -> str:
        from modelport.errors import CapabilityError
        raise CapabilityError("azure-apps reads no logs yet: use `az containerapp logs show`")

    # -- writes -----------------------------------------------------------------------------
    def create_revision(self, target: Target, rev: RevisionSpec) -> Revision:
        cloud, s = self._cloud(target), target.settings
        name, wanted = tr.app_name(rev.deployment), tr.revision_name(rev)
        app, revisions = self._state(target, rev.deployment)
        existing = next((r for r in revisions if r["name"].lower() == wanted.lower()), None)
        if existing is None:
            self._put_template(target, rev, app)
        elif not reading.is_active(existing):
            cloud.activate(name, existing["name"])  # deleted before, same content: bring it back
        app, revisions = self._state(target, rev.deployment)
        current = reading.labelled(app)
        if current.get(rev.revision, "").lower() != wanted.lower():
            serving = reading.weights(app) or {rev.revision: 100}
            names = {**current, rev.revision: wanted}
            cloud.patch_app(name, _traffic_patch(tr.traffic(serving, names)))
            app, revisions = self._state(target, rev.deployment)
        found = next(r for r in revisions if r["name"].lower() == wanted.lower())
        return reading.to_revision(rev.revision, found, app, s, self._static_ip(target))

    def _put_template(self, target: Target, rev: RevisionSpec, app: dict[str, Any] | None) -> None:
        """PUT the app with ``rev``'s template, keeping its traffic (a new app follows its latest
        revision until the label is set). A revision that fails to start is still created:
        health() reports why, so the gate names it and the engine rolls back."""
        s = target.settings
        rules_now = reading.traffic_rules(app)
        traffic = rules_now or [{"latestRevision": True, "weight": 100}]
        body = tr.app_body(rev, s, self._environment_id(s), traffic, reveal=True)
        try:
            self._cloud(target).put_app(tr.app_name(rev.deployment), body)
        except ProviderError:
            revisions = self._cloud(target).list_revisions(tr.app_name(rev.deployment))
            if not any(r["name"].lower() == tr.revision_name(rev).lower() for r in revisions):
                raise

    def set_traffic(self, target: Target, deployment: str, weights: Mapping[str, int]) -> None:
        app = self._app(target, deployment)
        if app is None:
            raise ProviderError(NAME, "set traffic", f"the container app {deployment} does not exist")
        names = reading.labelled(app)
        live = {k: int(v) for k, v in weights.items() if v}
        missing = sorted(set(live) - set(names))
        if missing:
            raise ProviderError(NAME, "set traffic", f"revision(s) {', '.join(missing)} of {deployment} do not exist")
        if reading.weights(app) == live:
            return
        self._cloud(target).patch_app(app["name"], _traffic_patch(tr.traffic(live, names)))

    def delete_revision(self, target: Target, deployment: str, revision: str) -> None:
        """Container Apps deletes no revision: the label goes and the revision is deactivated
        (kept inactive, up to maxInactiveRevisions). Undoing a first deploy deletes the app."""
        cloud = self._cloud(target)
        app = self._app(target, deployment)
        names = reading.labelled(app) if app else {}
        if revision not in names:
            return
        if set(names) == {revision}:
            cloud.delete_app(app["name"])
            return
        share = reading.weights(app).get(revision, 0)
        if share:
            raise ProviderError(NAME, f"delete revision {revision}", f"it serves {share}% of {deployment}'s traffic",
                                hint="move the traffic to another revision first")
        kept = {k: v for k, v in names.items() if k != revision}
        cloud.patch_app(app["name"], _traffic_patch(tr.traffic(reading.weights(app), kept)))
        if names[revision].lower() not in {v.lower() for v in kept.values()}:
            cloud.deactivate(app["name"], names[revision])

    def destroy(self, target: Target, deployment: str) -> None:
        if self._app(target, deployment) is not None:
            self._cloud(target).delete_app(tr.app_name(deployment))

    def delete_resource(self, target: Target, resource: Resource) -> None:
        if resource.kind == "container-app" and resource.deployment:
            self.destroy(target, resource.deployment)
        elif resource.deployment and resource.revision:
            self.delete_revision(target, resource.deployment, resource.revision)


def _traffic_patch(traffic: list[dict[str, Any]]) -> dict[str, Any]:
    return {"properties": {"configuration": {"ingress": {"traffic": traffic}}}}
