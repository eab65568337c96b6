"""Revisions: made from a service's template, read and deleted through the Revisions API."""

from __future__ import annotations

import copy
import random
import string

from .errors import ApiError, not_found, precondition
from .protojson import now
from .state import FAILED, READY, RevisionRecord, ServiceRecord, Store, condition
from .traffic import LATEST, referenced, weights

# RevisionTemplate fields that are copied onto the Revision resource under the same name.
TEMPLATE_FIELDS = ("labels", "annotations", "scaling", "vpcAccess", "timeout", "serviceAccount",
                   "containers", "volumes", "executionEnvironment", "encryptionKey",
                   "maxInstanceRequestConcurrency", "serviceMesh", "encryptionKeyRevocationAction",
                   "encryptionKeyShutdownDuration", "sessionAffinity", "nodeSelector",
                   "gpuZonalRedundancyDisabled")


def generated_name(service_id: str, generation: int) -> str:
    """<service>-<5 digits>-<3 letters>, like Cloud Run's generated revision names."""
    letters = "".join(random.choices(string.ascii_lowercase, k=3))
    return f"{service_id}-{generation:05d}-{letters}"


def new_revision(record: ServiceRecord, template: dict, generation: int,
                 uid: str) -> RevisionRecord:
    """A pending revision for `template` (named by template.revision when given)."""
    name = template.get("revision") or generated_name(record.service_id, generation)
    stamp = now()
    data = {"name": record.revision_name(name), "uid": uid, "generation": "1",
            "createTime": stamp, "updateTime": stamp, "service": record.name,
            "launchStage": "GA", "reconciling": True, "observedGeneration": "1",
            "logUri": f"docker://logs?revision={name}",
            "creator": "emulator@modelport.invalid", "etag": f'"{uid[:8]}"',
            "conditions": [condition("Ready", "CONDITION_RECONCILING")]}
    for key in TEMPLATE_FIELDS:
        if key in template:
            data[key] = copy.deepcopy(template[key])
    return RevisionRecord(name=name, data=data, template=copy.deepcopy(template))


def mark_ready(revision: RevisionRecord) -> None:
    """Revision conditions after its container passed the startup probe."""
    revision.state, revision.failure = READY, None
    revision.data["reconciling"] = False
    revision.data["conditions"] = [condition("Ready", "CONDITION_SUCCEEDED"),
                                   condition("ResourcesAvailable", "CONDITION_SUCCEEDED"),
                                   condition("ContainerHealthy", "CONDITION_SUCCEEDED")]


def mark_failed(revision: RevisionRecord, failure) -> None:
    """Revision conditions after its container failed to start (reason and message kept)."""
    revision.state, revision.failure = FAILED, failure
    revision.data["reconciling"] = False
    why = ({"revision_reason": failure.reason} if failure.revision_reason
           else {"reason": failure.reason})
    missing_image = failure.reason == "CONTAINER_MISSING"
    resources_ok = "CONDITION_FAILED" if missing_image else "CONDITION_SUCCEEDED"
    revision.data["conditions"] = [
        condition("Ready", "CONDITION_FAILED", failure.message, **why),
        condition("ResourcesAvailable", resources_ok),
        condition("ContainerHealthy", "CONDITION_FAILED", failure.message, **why)]


def serving(record: ServiceRecord) -> set[str]:
    """Revisions that are not retired: receiving traffic, named in traffic, or LATEST's."""
    names = set(weights(record.data.get("trafficStatuses", [])))
    traffic = record.data.get("traffic", [])
    names |= referenced(traffic)
    if any(t.get("type") == LATEST and t.get("percent", 0) > 0 for t in traffic):
        names |= {n for n in (record.latest_ready(), record.latest_created()) if n}
    return names


def not_deletable(record: ServiceRecord, revision: str) -> ApiError | None:
    """Why DeleteRevision refuses ``revision`` (None: it is retired and may go).

    "Only retired revisions can be deleted with this API" (shared/reference/gcp/cloudrun-v2/
    revision.proto, DeleteRevisionRequest). The service's latest created revision
    (service.proto, Service.latest_created_revision) is what its template stands for, so it is
    never retired, even with no traffic and no tag: it goes only when the template moves on to
    another revision (a new one, or an earlier one re-applied by name). One that serves or is
    named by a traffic target is not retired either (the API answers FAILED_PRECONDITION,
    e.g. "cannot be directly deleted because it is actively serving", quoted in
    hashicorp/waypoint#814).
    """
    if revision == record.latest_created():
        return precondition(f"Revision '{revision}' cannot be deleted because it is the latest "
                            f"created revision of service '{record.service_id}'; only retired "
                            "revisions can be deleted. Deploy another revision (or re-apply an "
                            "earlier one) first.")
    if revision in serving(record):
        return precondition(f"Revision '{revision}' cannot be deleted because it is receiving "
                            "traffic or is referenced by a traffic target of service "
                            f"'{record.service_id}'.")
    return None


class RevisionsApi:
    """GetRevision, ListRevisions, DeleteRevision."""

    def __init__(self, store: Store, reconciler):
        self.store = store
        self.reconciler = reconciler

    def _service(self, service_name: str) -> ServiceRecord:
        record = self.store.services.get(service_name)
        if record is None or record.deleted:
            service_id = service_name.rsplit("/", 1)[-1]
            raise not_found(f"Resource '{service_id}' of kind 'SERVICE' does not exist.")
        return record

    def _revision(self, name: str) -> tuple[ServiceRecord, RevisionRecord]:
        service_name, _, short = name.partition("/revisions/")
        record = self._service(service_name)
        if short not in record.revisions:
            raise not_found(f"Resource '{short}' of kind 'REVISION' does not exist.")
        return record, record.revisions[short]

    def get(self, name: str) -> dict:
        """GetRevision."""
        with self.store.lock:
            return copy.deepcopy(self._revision(name)[1].data)

    def list(self, parent: str) -> list[dict]:
        """ListRevisions of one service, or of every service with 'services/-'."""
        with self.store.lock:
            if parent.endswith("/services/-"):
                prefix = parent[: -len("-")]
                records = [r for n, r in self.store.services.items() if n.startswith(prefix)]
            else:
                records = [self._service(parent)]
            found = [copy.deepcopy(rev.data) for r in records for rev in r.revisions.values()]
        return sorted(found, key=lambda r: r["createTime"], reverse=True)

    def delete(self, name: str, etag: str | None, validate_only: bool) -> dict:
        """DeleteRevision: only a retired revision (see not_deletable)."""
        with self.store.lock:
            record, revision = self._revision(name)
            if etag and etag != revision.data["etag"]:
                raise ApiError("ABORTED", "The etag provided does not match the current etag.")
            refused = not_deletable(record, revision.name)
            if refused is not None:
                raise refused
            location = name.split("/services/")[0]
            snapshot = copy.deepcopy(revision.data)
            snapshot["deleteTime"] = snapshot["expireTime"] = now()
            op = self.store.new_operation(location, "Revision", snapshot)
            if validate_only:
                self.store.finish_operation(op["name"], snapshot)
                return copy.deepcopy(self.store.operations[op["name"]])
            del record.revisions[revision.name]
        self.reconciler.submit_revision_delete(record, revision, op["name"], snapshot)
        return op
