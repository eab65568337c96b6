"""The azure provider: one Container Instances group per revision, the serving revision marked by
a tag on the cloud, images in Azure Container Registry (or a registry override)."""

from __future__ import annotations

import os
from typing import Any, Mapping

from modelport.errors import ProviderError
from modelport.provider import (Capabilities, Health, ImageRepository, Observed, Provider, Resource, Revision,
                                RevisionSpec, Size, Target)

from . import reading, rules, sizes
from . import translate as tr
from .settings import AzureSettings


class AzureProvider(Provider):
    """Deployments as Azure Container Instances groups (ARM api-version 2023-05-01)."""

    name = "azure"
    description = "Azure Container Instances (one container group per revision); images in ACR"
    capabilities = Capabilities(
        traffic_split=False, gpu=True, needs_registry=True, in_place_update=True, revision_endpoints=True,
        platforms=(rules.PLATFORM,),  # x64 only: see rules.py, "Architecture"
        notes="ACI cannot split traffic: blue-green creates a new group, smoke-tests it at its own address "
              "and moves the modelport:active tag (the reported endpoint changes); all-at-once updates the "
              "serving group in place (its container restarts); canary is refused. GPU: V100 (preview)")
    settings_model = AzureSettings

    def __init__(self) -> None:
        self._clients: dict[AzureSettings, Any] = {}
        self._auth: dict[AzureSettings, Any] = {}

    def _cloud(self, target: Target):
        from .client import ContainerGroups

        settings = target.settings
        if settings not in self._clients:
            self._clients[settings] = ContainerGroups(settings)
        return self._clients[settings]

    # -- pure -------------------------------------------------------------------------------
    def fit_size(self, size: Size, target: Target) -> tuple[Size, list[str]]:
        return sizes.fit_size(size, in_vnet=bool(target.settings.subnet_id))

    def check_size(self, size: Size, target: Target) -> None:
        sizes.check_size(size, in_vnet=bool(target.settings.subnet_id))

    def check_spec(self, spec, target: Target) -> None:
        rules.check_spec(spec, target.settings, target.name)

    def translate(self, rev: RevisionSpec, target: Target) -> dict[str, Any]:
        s = target.settings
        server = self._server(s)
        user = "(admin user)" if s.acr_username_env else None
        body = tr.container_group(rev, s, credentials=tr.registry_credentials(s, server, user, None))
        return {"container_group": f"{tr.group_path(s)}/{tr.group_name(rev.deployment, rev.revision)}",
                "scaling": rules.scaling_note(rev.min_instances, rev.max_instances, rev.concurrency),
                "access": rules.access_note(s, keyed="MODELPORT_API_KEY" in rev.secrets), **body}

    def registry(self, target: Target, deployment: str) -> ImageRepository | None:
        s = target.settings
        if s.registry and not s.acr_username_env:  # an anonymous registry override
            return ImageRepository(f"{s.registry.rstrip('/')}/{deployment}")
        host = self._server(s)
        path = s.registry.rstrip("/") if s.registry else host
        if s not in self._auth:
            from .acr_auth import AcrAdminAuth, AcrAuth

            if s.acr_username_env:
                user, password = self._admin(s)
                self._auth[s] = AcrAdminAuth(user, password)
            else:
                from .client import credential
                self._auth[s] = AcrAuth(credential(s), host, verify=s.ca_bundle or True)
        return ImageRepository(f"{path}/{deployment}", self._auth[s])

    @staticmethod
    def _server(s: AzureSettings) -> str:
        return f"{s.acr.lower()}.azurecr.io" if s.acr else s.registry.split("/", 1)[0]

    @staticmethod
    def _admin(s: AzureSettings) -> tuple[str, str]:
        user, password = os.environ.get(s.acr_username_env or ""), os.environ.get(s.acr_password_env or "")
        if not user or not password:
            raise ProviderError("azure", "ACR credentials", f"{s.acr_username_env} and {s.acr_password_env} "
                                "must hold the ACR admin user and password",
                                hint="az acr credential show --name " + (s.acr or "REGISTRY"))
        return user, password

    # -- reads ------------------------------------------------------------------------------
    def _groups(self, target: Target, deployment: str) -> list[dict[str, Any]]:
        return reading.of_deployment(self._cloud(target).list(), deployment)

    def observe(self, target: Target, deployment: str) -> Observed:
        return reading.observed(self._cloud(target).list(), deployment, target.settings)

    def health(self, target: Target, deployment: str, revision: str) -> Health:
        group = reading.find(self._groups(target, deployment), revision)
        return reading.health(group, revision, target.settings)

    def list_resources(self, target: Target) -> list[Resource]:
        out = []
        for group in self._cloud(target).list():
            t = reading.tags(group)
            if t.get(tr.TAG_DEPLOYMENT):
                out.append(Resource("container-group", group.get("id") or group["name"], t[tr.TAG_DEPLOYMENT],
                                    t.get(tr.TAG_REVISION), t.get(tr.TAG_DIGEST),
                                    {"group": group["name"], "config": t.get(tr.TAG_CONFIG)}))
        return out

    def logs(self, target: Target, deployment: str, revision: str | None, tail: int = 100) -> str:
        groups = self._groups(target, deployment)
        group = reading.find(groups, revision) if revision else reading.active(groups)
        if group is None:
            raise ProviderError("azure", "logs", f"{deployment} has no revision {revision or '(serving)'}")
        return self._cloud(target).logs(group["name"], tail)

    # -- writes -----------------------------------------------------------------------------
    def _body(self, target: Target, rev: RevisionSpec, active: int | None, label_revision: str | None = None):
        s = target.settings
        server = self._server(s)
        user, password = self._admin(s) if s.acr_username_env else (None, None)
        body = tr.container_group(rev, s, active=active, reveal=True,
                                  credentials=tr.registry_credentials(s, server, user, password, reveal=True))
        if label_revision and "dnsNameLabel" in body["properties"]["ipAddress"]:
            body["properties"]["ipAddress"]["dnsNameLabel"] = tr.dns_label(s, rev.deployment, label_revision)
        return body

    def create_revision(self, target: Target, rev: RevisionSpec) -> Revision:
        cloud, s = self._cloud(target), target.settings
        groups = self._groups(target, rev.deployment)
        existing = reading.find(groups, rev.revision)
        if existing is not None:
            t = reading.tags(existing)
            if t.get(tr.TAG_CONFIG) == rev.config and t.get(tr.TAG_DIGEST) == rev.image.digest:
                return reading.to_revision(existing, s)
            cloud.delete(existing["name"])  # same name, other content: a retried, changed revision
            groups = [g for g in groups if g["name"] != existing["name"]]
        # The first group of a deployment serves at once; later ones wait for set_traffic.
        active = None if reading.active(groups) else 1
        name = tr.group_name(rev.deployment, rev.revision)
        group = self._put(target, name, self._body(target, rev, active))
        return reading.to_revision(group, s)

    def _put(self, target: Target, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create or update a group. A group whose container fails to start is still created:
        health() reports why, so the gate names it and the engine rolls back."""
        cloud = self._cloud(target)
        try:
            return cloud.create_or_update(name, body)
        except ProviderError:
            group = cloud.get(name)
            if group is None or reading.failure(group) is None:
                raise
            return group

    def update_revision(self, target: Target, current: str, rev: RevisionSpec) -> Revision:
        """Put ``rev`` into the group serving ``current`` (same name, address and DNS label): ACI
        restarts the container with the new image/env. cpu, memory, GPU and restart policy can
        only be set when a group is created, so a change of those deletes and recreates the
        group under the same name (the endpoint is down meanwhile)."""
        cloud = self._cloud(target)
        groups = self._groups(target, rev.deployment)
        group = reading.find(groups, rev.revision) or reading.find(groups, current)
        if group is None:
            raise ProviderError("azure", f"update revision {current}", f"{rev.deployment} has no revision {current}")
        t = reading.tags(group)
        if t.get(tr.TAG_REVISION) == rev.revision and t.get(tr.TAG_CONFIG) == rev.config \
                and t.get(tr.TAG_DIGEST) == rev.image.digest:
            return reading.to_revision(group, target.settings)  # already done (a resumed step)
        name = group["name"]
        label = name[len(rev.deployment) + 1:] if name.startswith(f"{rev.deployment}-") else rev.revision
        body = self._body(target, rev, reading.active_marker(group) or None, label_revision=label)
        if _fixed(group) != _fixed_body(body):
            cloud.delete(name)
        return reading.to_revision(self._put(target, name, body), target.settings)

    def set_traffic(self, target: Target, deployment: str, weights: Mapping[str, int]) -> None:
        live = [k for k, v in weights.items() if v]
        if len(live) != 1 or weights[live[0]] != 100:
            raise ProviderError("azure", "set traffic", f"Container Instances cannot split traffic ({dict(weights)}); "
                                "one revision must take 100%")
        groups = self._groups(target, deployment)
        group = reading.find(groups, live[0])
        if group is None:
            raise ProviderError("azure", "set traffic", f"revision {live[0]} of {deployment} does not exist")
        serving = reading.active(groups)
        if serving is not None and serving["name"] == group["name"]:
            return
        # One tag write on the new group switches atomically: the highest marker serves.
        top = max((reading.active_marker(g) for g in groups), default=0)
        self._cloud(target).set_tags(group["name"], {**reading.tags(group), tr.TAG_ACTIVE: str(top + 1)})

    def delete_revision(self, target: Target, deployment: str, revision: str) -> None:
        groups = self._groups(target, deployment)
        group = reading.find(groups, revision)
        if group is None:
            return
        serving = reading.active(groups)
        if serving is not None and serving["name"] == group["name"] and len(groups) > 1:
            raise ProviderError("azure", f"delete revision {revision}", f"it serves {deployment}'s traffic",
                                hint="move the traffic to another revision first")
        self._cloud(target).delete(group["name"])

    def destroy(self, target: Target, deployment: str) -> None:
        for group in self._groups(target, deployment):
            self._cloud(target).delete(group["name"])

    def delete_resource(self, target: Target, resource: Resource) -> None:
        name = (resource.extra or {}).get("group")
        if name:
            self._cloud(target).delete(name)


def _fixed(group: Mapping[str, Any]) -> tuple:
    """What ACI sets only at creation, from a group read back (as_dict)."""
    containers = group.get("containers") or [{}]
    req = ((containers[0].get("resources") or {}).get("requests") or {})
    gpu = req.get("gpu") or {}
    return (float(req.get("cpu") or 0), float(req.get("memory_in_gb") or 0), gpu.get("count"), gpu.get("sku"),
            group.get("restart_policy"), tuple(s.get("id") for s in group.get("subnet_ids") or []))


def _fixed_body(body: Mapping[str, Any]) -> tuple:
    """The same, from an ARM request body."""
    props = body["properties"]
    req = props["containers"][0]["properties"]["resources"]["requests"]
    gpu = req.get("gpu") or {}
    return (float(req["cpu"]), float(req["memoryInGB"]), gpu.get("count"), gpu.get("sku"),
            props.get("restartPolicy"), tuple(s["id"] for s in props.get("subnetIds") or []))
