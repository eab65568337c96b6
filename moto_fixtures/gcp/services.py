"""The Services control plane: create / get / list / update / delete, generation and etag."""

from __future__ import annotations

import base64
import copy
import hashlib

from .defaults import with_defaults
from .errors import ApiError, invalid, not_found
from .protojson import now
from .revisions import new_revision
from .state import USER_FIELDS, ServiceRecord, Store, condition
from .traffic import check_traffic
from .validate import check_service


def split_name(name: str) -> tuple[str, str, str]:
    """(project, location, service id) of projects/P/locations/L/services/S."""
    parts = name.split("/")
    return parts[1], parts[3], parts[5]


def missing(name: str) -> ApiError:
    """Cloud Run v2's NOT_FOUND wording for a service."""
    project, location, service_id = split_name(name)
    return not_found(f"Resource '{service_id}' of kind 'SERVICE' in region '{location}' in "
                     f"project '{project}' does not exist.")


def etag_of(uid: str, generation: int) -> str:
    """An opaque, quoted etag that changes with every generation."""
    digest = hashlib.sha256(f"{uid}:{generation}".encode()).digest()[:18]
    return '"' + base64.urlsafe_b64encode(digest).decode().rstrip("=") + '"'


class ControlPlane:
    """Services and revisions as the Admin API sees them; the data plane runs elsewhere."""

    def __init__(self, store: Store, limits, reconciler, routers):
        self.store = store
        self.limits = limits
        self.reconciler = reconciler
        self.routers = routers

    # -- reads ---------------------------------------------------------------------------
    def record(self, name: str) -> ServiceRecord:
        """The service record, or NOT_FOUND."""
        with self.store.lock:
            record = self.store.services.get(name)
            if record is None or record.deleted:
                raise missing(name)
            return record

    def get(self, name: str) -> dict:
        """GetService."""
        with self.store.lock:
            return copy.deepcopy(self.record(name).data)

    def list(self, parent: str) -> list[dict]:
        """ListServices (newest first)."""
        with self.store.lock:
            found = [copy.deepcopy(r.data) for n, r in self.store.services.items()
                     if n.startswith(parent + "/services/") and not r.deleted]
        return sorted(found, key=lambda s: s["createTime"], reverse=True)

    # -- writes --------------------------------------------------------------------------
    def create(self, parent: str, service_id: str, body: dict, validate_only: bool) -> dict:
        """CreateService: validate, store generation 1 with its first revision, reconcile."""
        name = f"{parent}/services/{service_id}"
        spec = self._checked_spec(body, service_id, parent.split("/")[1])
        with self.store.lock:
            if name in self.store.services and not self.store.services[name].deleted:
                raise ApiError("ALREADY_EXISTS", f"Resource '{service_id}' already exists.")
            record = ServiceRecord(name=name, service_id=service_id, data={})
            revision = new_revision(record, spec["template"], 1, self.store.new_uid())
            if validate_only:
                return self._done_op(parent, self._initial_data(record, spec, preview=True))
            record.data = self._initial_data(record, spec)
            self.routers.open(record)
            record.data["uri"] = record.served.url
            record.data["urls"] = [record.served.url]
            self._add_revision(record, revision)
            self.store.services[name] = record
            op = self.store.new_operation(parent, "Service", record.data)
        self.reconciler.submit(record, op["name"])
        return op

    def update(self, name: str, body: dict, mask: list[str], allow_missing: bool,
               validate_only: bool) -> dict:
        """UpdateService (PATCH): replace the spec (or the masked fields); create if allowed."""
        project, location, service_id = split_name(name)
        parent = f"projects/{project}/locations/{location}"
        with self.store.lock:
            record = self.store.services.get(name)
            if record is None or record.deleted:
                if not allow_missing:
                    raise missing(name)
                return self.create(parent, service_id, body, validate_only)
            # service.proto Service.etag: "May be used to detect modification conflict".
            if body.get("etag") and body["etag"] != record.data["etag"]:
                raise ApiError("ABORTED", f"The etag provided ({body['etag']}) does not match the "
                               f"current etag of service '{service_id}'; re-read and retry.")
            spec = self._checked_spec(self._merged(record, body, mask), service_id, project)
            revision = self._revision_for(record, spec["template"])
            if validate_only:
                return self._done_op(parent, {**record.data, **spec})
            changed = spec != record.spec()
            if changed:
                self._apply(record, spec, revision)
            op = self.store.new_operation(parent, "Service", record.data)
        self.reconciler.submit(record, op["name"])
        return op

    def delete(self, name: str, etag: str | None, validate_only: bool) -> dict:
        """DeleteService: stop routing, remove every revision container."""
        project, location, _ = split_name(name)
        parent = f"projects/{project}/locations/{location}"
        with self.store.lock:
            record = self.record(name)
            if etag and etag != record.data["etag"]:
                raise ApiError("ABORTED", "The etag provided does not match the current etag.")
            snapshot = copy.deepcopy(record.data)
            snapshot["deleteTime"] = snapshot["expireTime"] = now()
            if validate_only:
                return self._done_op(parent, snapshot)
            record.deleted = True
            del self.store.services[name]
            op = self.store.new_operation(parent, "Service", snapshot)
        self.reconciler.submit_delete(record, op["name"], snapshot)
        return op

    # -- helpers -------------------------------------------------------------------------
    def _checked_spec(self, body: dict, service_id: str, project: str) -> dict:
        spec = {k: v for k, v in body.items() if k in USER_FIELDS}
        check_service(spec, service_id, self.limits)
        check_traffic(spec.get("traffic") or [], service_id)
        return with_defaults(spec, self.limits, project_number(project))

    def _merged(self, record: ServiceRecord, body: dict, mask: list[str]) -> dict:
        if not mask or mask == ["*"]:
            return body
        merged = record.spec()
        for path in mask:
            top = _camel(path.split(".")[0])
            if top not in USER_FIELDS:
                raise invalid(f"Invalid update_mask path '{path}'.", "update_mask")
            if top in body:
                merged[top] = body[top]
            else:
                merged.pop(top, None)
        return merged

    def _revision_for(self, record: ServiceRecord, template: dict):
        """The revision a template change creates (None: no new revision needed)."""
        if template == record.data.get("template"):
            return None
        explicit = template.get("revision")
        # A name already used: the same configuration re-applied makes that revision the latest
        # created again (Knative's CheckNameAvailability, knative/serving
        # pkg/reconciler/configuration/configuration.go, which Cloud Run follows); another
        # configuration is the API's 409 "Revision named '...' with different configuration
        # already exists" (hashicorp/terraform-provider-google#9438, #14569).
        if explicit and explicit in record.revisions:
            if record.revisions[explicit].template != template:
                raise ApiError("ALREADY_EXISTS", f"Revision named '{explicit}' with different "
                               "configuration already exists.")
            return record.revisions[explicit]
        generation = int(record.data["generation"]) + 1
        return new_revision(record, template, generation, self.store.new_uid())

    def _apply(self, record: ServiceRecord, spec: dict, revision) -> None:
        data = record.data
        for key in USER_FIELDS:
            data.pop(key, None)
        data.update(copy.deepcopy(spec))
        generation = int(data["generation"]) + 1
        data.update(generation=str(generation), updateTime=now(),
                    etag=etag_of(data["uid"], generation), reconciling=True,
                    lastModifier="emulator@modelport.invalid")
        data["terminalCondition"] = condition("Ready", "CONDITION_RECONCILING")
        if revision is not None:
            self._add_revision(record, revision)

    def _add_revision(self, record: ServiceRecord, revision) -> None:
        record.revisions.setdefault(revision.name, revision)
        record.data["latestCreatedRevision"] = record.revision_name(revision.name)

    def _initial_data(self, record: ServiceRecord, spec: dict, preview: bool = False) -> dict:
        uid = self.store.new_uid()
        stamp = now()
        data = {"name": record.name, "uid": uid, "generation": "1", "createTime": stamp,
                "updateTime": stamp, "creator": "emulator@modelport.invalid",
                "lastModifier": "emulator@modelport.invalid", "etag": etag_of(uid, 1),
                "reconciling": not preview,
                "terminalCondition": condition("Ready", "CONDITION_RECONCILING")}
        data.update(copy.deepcopy(spec))
        return data

    def _done_op(self, parent: str, snapshot: dict) -> dict:
        op = self.store.new_operation(parent, "Service", snapshot)
        self.store.finish_operation(op["name"], snapshot)
        return copy.deepcopy(self.store.operations[op["name"]])


def project_number(project: str) -> str:
    """A stable 12-digit stand-in for the project number (default service account name)."""
    return str(int(hashlib.sha256(project.encode()).hexdigest(), 16) % 10**12).zfill(12)


def _camel(path: str) -> str:
    head, *rest = path.split("_")
    return head + "".join(p.title() for p in rest)

