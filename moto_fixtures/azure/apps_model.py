"""Records of the emulated Microsoft.App resources: managed environments, container apps and
their revisions (plain data; the service owns the lock that guards them)."""
from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field

from .model import now_iso

APPS_API_VERSION = "2026-07-01"
PROVIDER = "Microsoft.App"


@dataclass
class Environment:
    """A managed environment: one default domain, one static IP its ingress answers on."""

    sub: str
    rg: str
    name: str
    body: dict
    static_ip: str = ""
    provisioning_state: str = "Waiting"

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.sub}/resourceGroups/{self.rg}/providers/{PROVIDER}"
                f"/managedEnvironments/{self.name}")

    @property
    def location(self) -> str:
        return self.body["location"]

    @property
    def default_domain(self) -> str:
        # Real default domains look like "<env>-<8 random chars>.<region>.azurecontainerapps.io"
        # (ManagedEnvironments_Get example: defaultDomain); the suffix here is a stable hash.
        tag = hashlib.sha1(self.id.lower().encode()).hexdigest()[:8]
        region = self.location.replace(" ", "").lower()
        return f"{self.name.lower()}-{tag}.{region}.azurecontainerapps.io"


@dataclass
class RevisionRecord:
    """One revision: its immutable template and the replica that runs it."""

    name: str
    template: dict
    created: str = field(default_factory=now_iso)
    active: bool = True
    provisioning_state: str = "Provisioning"
    running_state: str = "Activating"
    health_state: str = "None"
    error: str | None = None
    docker_id: str | None = None
    ip: str | None = None
    last_active: str = field(default_factory=now_iso)

    def template_copy(self) -> dict:
        """A deep copy of the template, as GET returns it."""
        return copy.deepcopy(self.template)


@dataclass
class ContainerApp:
    """A container app: its last accepted body, its revisions and its resolved routing."""

    sub: str
    rg: str
    name: str
    body: dict
    environment: Environment
    revisions: dict[str, RevisionRecord] = field(default_factory=dict)
    latest_revision: str | None = None
    provisioning_state: str = "InProgress"
    generation: int = 0
    busy_operation: str | None = None

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.sub}/resourceGroups/{self.rg}/providers/{PROVIDER}"
                f"/containerApps/{self.name}")

    @property
    def configuration(self) -> dict:
        return self.body["properties"].get("configuration") or {}

    @property
    def ingress(self) -> dict | None:
        return self.configuration.get("ingress")

    @property
    def fqdn(self) -> str:
        return f"{self.name.lower()}.{self.environment.default_domain}"

    def label_fqdn(self, label: str) -> str:
        """A label's own host name: "<app>---<label>.<domain>" (revisions page, "Labels")."""
        return f"{self.name.lower()}---{label}.{self.environment.default_domain}"

    def latest_ready(self) -> str | None:
        """The newest revision that provisioned successfully."""
        ready = [r for r in self.revisions.values() if r.provisioning_state == "Provisioned"]
        return ready[-1].name if ready else None


def effective_traffic(app: ContainerApp) -> list[dict]:
    """The app's traffic rules; without any, all traffic follows the latest revision
    (traffic-splitting: "all traffic goes to the latest revision by default")."""
    ingress = app.ingress or {}
    return ingress.get("traffic") or [{"latestRevision": True, "weight": 100}]


def app_host(app: ContainerApp) -> str:
    """The app's host name: ``<app>.internal.<domain>`` for internal ingress
    (https://learn.microsoft.com/azure/container-apps/ingress-overview, "Internal")."""
    internal = not (app.ingress or {}).get("external", False)  # spec Ingress.external default false
    return f"{app.name.lower()}.internal.{app.environment.default_domain}" if internal else app.fqdn


def label_host(app: ContainerApp, label: str) -> str:
    """A label's host name, next to the app's: ``<app>---<label>.[internal.]<domain>``."""
    return app_host(app).replace(f"{app.name.lower()}.", f"{app.name.lower()}---{label}.", 1)
