"""The emulated Microsoft.App resource provider (api-version 2026-07-01): managed environments,
container apps in Single or Multiple revision mode, their revisions, activate/deactivate.

Writes are ARM long-running operations as the spec declares them (x-ms-long-running-operation on
ManagedEnvironments_CreateOrUpdate/Delete and ContainerApps_CreateOrUpdate/Delete): the PUT answers
201/200 with ``Azure-AsyncOperation`` and ``Retry-After``, DELETE answers 202 (ContainerApps_Delete
example), and a worker thread runs the revision on Docker while the operation says InProgress.
A template change creates a revision ``<app>--<suffix>`` (LIMITS.md §5); configuration changes
(traffic, labels, secrets, ingress) do not.
"""
from __future__ import annotations

import copy
import secrets as random_names
import string
import threading
from pathlib import Path

from . import addresses
from .apps_environments import EnvironmentHandlers, not_found
from .apps_ingress import IngressHost, Routes
from .apps_model import (APPS_API_VERSION, PROVIDER, ContainerApp, Environment, RevisionRecord, app_host,
                         effective_traffic, label_host)
from .apps_render import app_json, revision_json
from .apps_runtime import RevisionFailed, container_env, pull_credentials, start_replica, stop_replica
from .apps_validation import validate_app
from .errors import ArmError, bad_request
from .model import Operation, find_operation, now_iso
from .runtime import DockerRuntime

RETRY_AFTER = "1"  # azure-core treats 0 as absent and would wait its 30 s default
DEFAULT_MAX_INACTIVE = 100  # LIMITS.md §2 "Emulator choice"


class AppsService(EnvironmentHandlers):
    """State and behaviour of Microsoft.App in the ARM emulator."""

    def __init__(self, arm, runtime: DockerRuntime):
        self.arm = arm  # the ArmService: resource groups, base_url, shared lock
        self.runtime = runtime
        self.lock = arm.lock
        self.environments: dict[tuple, Environment] = {}
        self.apps: dict[tuple, ContainerApp] = {}
        self.operations: dict[str, Operation] = {}
        self.routes: dict[str, Routes] = {}  # environment id (lower) -> routes
        self.ingress: IngressHost | None = None
        self.tls_dir: Path | None = None
        self._workers: list[threading.Thread] = []

    # -- container apps: reads -------------------------------------------------------------
    def _app(self, sub: str, rg: str, name: str) -> ContainerApp:
        self.arm._rg(sub, rg)
        with self.lock:
            app = self.apps.get((sub.lower(), rg.lower(), name.lower()))
        if app is None:
            raise not_found("containerApps", name, rg)
        return app

    def get_app(self, sub: str, rg: str, name: str):
        """GET a container app."""
        app = self._app(sub, rg, name)
        with self.lock:
            return 200, app_json(app), {}

    def list_apps(self, sub: str, rg: str | None = None):
        """List container apps of a subscription or a resource group."""
        if rg is not None:
            self.arm._rg(sub, rg)
        with self.lock:
            found = [app_json(a) for (s, r, _), a in sorted(self.apps.items())
                     if s == sub.lower() and (rg is None or r == rg.lower())]
        return 200, {"value": found}, {}

    def list_revisions(self, sub: str, rg: str, name: str):
        """List the revisions of a container app (oldest first)."""
        app = self._app(sub, rg, name)
        with self.lock:
            return 200, {"value": [revision_json(app, r) for r in app.revisions.values()]}, {}

    def get_revision(self, sub: str, rg: str, name: str, revision: str):
        """GET one revision."""
        app = self._app(sub, rg, name)
        with self.lock:
            return 200, revision_json(app, self._revision(app, revision)), {}

    def _revision(self, app: ContainerApp, revision: str) -> RevisionRecord:
        found = app.revisions.get(revision.lower())
        if found is None:
            raise not_found("containerApps/revisions", revision, app.rg)
        return found

    # -- container apps: create or update ---------------------------------------------------
    def put_app(self, sub: str, rg: str, name: str, body: dict):
        """Create or update an app: a template change starts a revision in a worker."""
        self.arm._rg(sub, rg)
        env = self._environment_of(body)
        validate_app(name, body, "WorkloadProfiles" if env.body.get("properties", {}).get(
            "workloadProfiles") else "ConsumptionOnly")
        key = (sub.lower(), rg.lower(), name.lower())
        with self.lock:
            app = self.apps.get(key)
            if app is not None and app.busy_operation:
                # one operation at a time per app (modelled: ContainerAppOperationInProgress)
                raise ArmError(409, "ContainerAppOperationInProgress", f"Cannot modify a container "
                               f"app '{name}' because there is a pending operation.")
            self._check_traffic_names(name, body, app)
            created = app is None
            if created and any(a.environment is env and a.name.lower() == name.lower() for a in self.apps.values()):
                # an app's host name is <app>.<environment domain>, so a name is taken once per
                # environment (ingress-overview); the real code is not documented (modelled)
                raise ArmError(409, "ContainerAppNameConflict", f"A container app named '{name}' already "
                               "exists in this managed environment.")
            if created:
                app = ContainerApp(sub, self.arm._rg(sub, rg)["name"], name, body, env)
                self.apps[key] = app
            revision = self._next_revision(app, body, created)
            app.body = copy.deepcopy(body)
            app.generation += 1
            app.provisioning_state = "InProgress"
            op = self._begin(app.id, env.location, lambda: self._reconcile(app, revision))
            app.busy_operation = op.id
            reply = app_json(app)
        return (201 if created else 200), reply, self._lro_headers(op, "containerappOperationStatuses")

    def patch_app(self, sub: str, rg: str, name: str, patch: dict):
        """PATCH an app (ContainerApps_Update): the patch is merged into the app (objects merged,
        arrays replaced, as a JSON merge patch) and applied like a PUT; 202 with Location
        (x-ms-long-running-operation-options final-state-via: location)."""
        app = self._app(sub, rg, name)
        with self.lock:
            body = _merge(copy.deepcopy(app.body), patch)
        _, _, headers = self.put_app(sub, rg, name, body)
        headers["Location"] = headers["Azure-AsyncOperation"].replace(
            "containerappOperationStatuses", "containerappOperationResults")
        return 202, None, headers

    def operation_result(self, sub: str, location: str, op_id: str):
        """GET an operation's Location URL: 202 while it runs, then the resource (204 if gone)."""
        with self.lock:
            op = find_operation(self.operations, sub, op_id)
            if not op.done.is_set():
                return 202, None, {"Retry-After": RETRY_AFTER}
            parts = op.resource_id.split("/")
            app = self.apps.get((parts[2].lower(), parts[4].lower(), parts[8].lower()))
            if app is None:
                return 204, None, {}
            return 200, app_json(app), {}

    def _environment_of(self, body: dict) -> Environment:
        props = body.get("properties") if isinstance(body, dict) else None
        env_id = (props or {}).get("environmentId") or (props or {}).get("managedEnvironmentId")
        parts = (env_id or "").split("/")
        with self.lock:
            env = (self.environments.get((parts[2].lower(), parts[4].lower(), parts[8].lower()))
                   if len(parts) == 9 and parts[7].lower() == "managedenvironments" else None)
        # an app lives in an existing environment (spec ContainerAppProperties.environmentId)
        if env is None or env.provisioning_state != "Succeeded":
            raise bad_request("ManagedEnvironmentNotFound", f"Managed environment '{env_id}' was "
                              "not found or is not ready.", "properties.environmentId")
        return env

    def _check_traffic_names(self, name: str, body: dict, app: ContainerApp | None) -> None:
        # traffic may only name revisions that exist (traffic-splitting: a rule names a revision)
        rules = ((body["properties"].get("configuration") or {}).get("ingress") or {}).get("traffic") or []
        known = set(app.revisions) if app else set()
        for rule in rules:
            wanted = rule.get("revisionName")
            if wanted and wanted.lower() not in known:
                raise bad_request("ContainerAppInvalidTraffic", f"Invalid traffic configuration: "
                                  f"revision '{wanted}' of container app '{name}' does not exist.",
                                  "properties.configuration.ingress.traffic")

    def _next_revision(self, app: ContainerApp, body: dict, created: bool) -> RevisionRecord | None:
        template = body["properties"]["template"]
        latest = app.revisions.get((app.latest_revision or "").lower())
        if not created and latest is not None and latest.template == template:
            return None
        suffix = template.get("revisionSuffix") or _random_suffix()
        name = f"{app.name}--{suffix}"
        if name.lower() in app.revisions:
            # a suffix names one revision for good (LIMITS.md §5; modelled code)
            raise bad_request("ContainerAppRevisionSuffixConflict", f"Revision with suffix "
                              f"'{suffix}' already exists. Please use a different revision suffix.",
                              "properties.template.revisionSuffix")
        revision = RevisionRecord(name, copy.deepcopy(template))
        app.revisions[name.lower()] = revision
        app.latest_revision = name
        return revision

    def _reconcile(self, app: ContainerApp, revision: RevisionRecord | None) -> dict | None:
        error = None
        if revision is not None:
            error = self._start_revision(app, revision)
        with self.lock:
            if revision is not None and error is None and app.configuration.get(
                    "activeRevisionsMode", "Single") == "Single":
                # Single mode: the previous revision is deprovisioned once the new one is ready
                # (LIMITS.md §2, "Revision modes")
                for other in app.revisions.values():
                    if other is not revision and other.active:
                        self._deactivate(app, other)
            self._purge_inactive(app)
            self._route(app)
            app.provisioning_state = "Failed" if error else "Succeeded"
            app.busy_operation = None
        return error

    def _start_revision(self, app: ContainerApp, revision: RevisionRecord) -> dict | None:
        with self.lock:
            config = copy.deepcopy(app.configuration)
        ingress = config.get("ingress") or {}
        try:
            docker_id, ip = start_replica(self.runtime, app.id, revision.name, revision.template,
                                          container_env(revision.template, config),
                                          ingress.get("targetPort"), pull_credentials(config))
        except RevisionFailed as exc:
            with self.lock:
                revision.provisioning_state, revision.running_state = "Failed", "Failed"
                revision.health_state, revision.error = "Unhealthy", str(exc)
            return {"code": "ContainerAppOperationError", "message": str(exc)}
        with self.lock:
            revision.docker_id, revision.ip = docker_id, ip
            revision.provisioning_state, revision.running_state = "Provisioned", "Running"
            revision.health_state = "Healthy"
        return None

    def _route(self, app: ContainerApp) -> None:
        """Publish the app's host names on its environment's ingress (lock held)."""
        routes = self.routes.get(app.environment.id.lower())
        ingress = app.ingress
        if routes is None:
            return
        if ingress is None:
            routes.replace(app.fqdn, {}, False)
            return
        port = ingress["targetPort"]
        url = lambda r: f"http://{r.ip}:{port}" if r and r.active and r.ip else None  # noqa: E731
        table: dict[str, list[tuple[str, int]]] = {app_host(app): []}
        for rule in effective_traffic(app):
            target = app.revisions.get((rule.get("revisionName") or app.latest_ready() or "").lower())
            if url(target):
                table[app_host(app)].append((url(target), rule.get("weight", 0)))
                if rule.get("label"):
                    table[label_host(app, rule["label"])] = [(url(target), 100)]
        routes.replace(app_host(app), table, bool(ingress.get("allowInsecure")))

    # -- revisions: activate / deactivate --------------------------------------------------
    def deactivate_revision(self, sub: str, rg: str, name: str, revision: str):
        """Deactivate a revision: its replica stops; refused while it receives traffic."""
        app = self._app(sub, rg, name)
        with self.lock:
            record = self._revision(app, revision)
            weight = sum(r.get("weight", 0) for r in effective_traffic(app)
                         if (r.get("revisionName") or app.latest_ready() or "").lower() == record.name.lower())
            if weight:
                # a revision that takes traffic cannot be deactivated (modelled; stricter choice)
                raise bad_request("ContainerAppInvalidTraffic", f"Revision '{record.name}' receives "
                                  f"{weight}% of the traffic; move its traffic before deactivating it.")
            self._deactivate(app, record)
            self._purge_inactive(app)
            self._route(app)
        return 200, None, {}

    def activate_revision(self, sub: str, rg: str, name: str, revision: str):
        """Activate an inactive revision again (its replica starts before the call returns)."""
        app = self._app(sub, rg, name)
        with self.lock:
            record = self._revision(app, revision)
            if record.active:
                return 200, None, {}
            record.active = True
        error = self._start_revision(app, record)
        with self.lock:
            self._route(app)
        if error:
            raise ArmError(400, error["code"], error["message"])
        return 200, None, {}

    def _deactivate(self, app: ContainerApp, record: RevisionRecord) -> None:
        record.active, record.running_state = False, "Stopped"
        record.last_active = now_iso()
        docker_id, ip = record.docker_id, record.ip
        record.docker_id = record.ip = None
        threading.Thread(target=stop_replica, args=(self.runtime, docker_id, ip), daemon=True).start()

    def _purge_inactive(self, app: ContainerApp) -> None:
        # the oldest inactive revisions beyond maxInactiveRevisions go (LIMITS.md §2)
        keep = app.configuration.get("maxInactiveRevisions", DEFAULT_MAX_INACTIVE)
        inactive = [k for k, r in app.revisions.items() if not r.active]
        for key in inactive[:max(0, len(inactive) - keep)]:
            app.revisions.pop(key)

    # -- delete ----------------------------------------------------------------------------
    def delete_app(self, sub: str, rg: str, name: str):
        """DELETE a container app: 202 and an operation; replicas stop in a worker."""
        try:
            app = self._app(sub, rg, name)
        except ArmError as exc:
            if exc.status == 404 and exc.code == "ResourceNotFound":
                return 204, None, {}  # ContainerApps_Delete example: 204 when nothing to delete
            raise
        with self.lock:
            self.apps.pop((sub.lower(), rg.lower(), name.lower()), None)
            routes = self.routes.get(app.environment.id.lower())
            if routes is not None:
                routes.replace(app_host(app), {}, False)
            replicas = [(r.docker_id, r.ip) for r in app.revisions.values()]
            op = self._begin(app.id, app.environment.location,
                             lambda: [stop_replica(self.runtime, d, i) for d, i in replicas] and None)
        return 202, None, self._lro_headers(op, "containerappOperationStatuses")

    # -- operations ------------------------------------------------------------------------
    def _begin(self, resource_id: str, location: str, work) -> Operation:
        op = Operation(resource_id, location.replace(" ", "").lower())
        self.operations[op.id] = op

        def run():
            try:
                error = work()
            except ArmError as exc:
                error = exc.body()["error"]
            except Exception as exc:  # noqa: BLE001 - any failure must end the operation
                error = {"code": "InternalServerError", "message": str(exc)[:300]}
            op.finish(error)

        worker = threading.Thread(target=run, name=f"aca-op-{op.id[:8]}", daemon=True)
        self._workers.append(worker)
        worker.start()
        return op

    def _lro_headers(self, op: Operation, kind: str) -> dict:
        sub = op.resource_id.split("/")[2]
        url = (f"{self.arm.base_url}/subscriptions/{sub}/providers/{PROVIDER}/locations/"
               f"{op.location}/{kind}/{op.id}?api-version={APPS_API_VERSION}")
        return {"Azure-AsyncOperation": url, "Retry-After": RETRY_AFTER}

    def operation_status(self, sub: str, location: str, op_id: str):
        """GET an Azure-AsyncOperation URL of Microsoft.App."""
        with self.lock:
            op = find_operation(self.operations, sub, op_id)
            body = op.body([])
        body.pop("properties", None)
        body["name"] = op.id
        return 200, body, ({"Retry-After": RETRY_AFTER} if body["status"] == "InProgress" else {})

    def close(self) -> None:
        """Stop workers' replicas, front ends and release addresses (at emulator shutdown)."""
        for worker in list(self._workers):
            worker.join(30)
        with self.lock:
            replicas = [(r.docker_id, r.ip) for a in self.apps.values() for r in a.revisions.values()]
            ips = [e.static_ip for e in self.environments.values() if e.static_ip]
        for docker_id, ip in replicas:
            stop_replica(self.runtime, docker_id, ip)
        if self.ingress is not None:
            self.ingress.close()
        for ip in ips:
            addresses.release(ip)












def _merge(target: dict, patch: dict) -> dict:
    for key, value in (patch or {}).items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def _random_suffix() -> str:
    # a short semi-random alphanumeric suffix when none is set (LIMITS.md §5)
    return random_names.choice(string.ascii_lowercase) + "".join(
        random_names.choice(string.ascii_lowercase + string.digits) for _ in range(6))
