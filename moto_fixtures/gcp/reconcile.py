"""Reconciliation: bring the data plane to a service's spec, then finish its operation.

Like Knative/Cloud Run: the latest created revision is started and health-checked
(ConfigurationsReady); traffic is then resolved (LATEST = latest *ready* revision) and every
revision with a non-zero percent must run and pass its probe before the router switches
(RoutesReady). Revisions left without traffic are stopped after a short grace period.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .errors import ApiError, precondition
from .revisions import mark_failed, mark_ready
from .runtime import StartFailure
from .state import FAILED, READY, RevisionRecord, ServiceRecord, Store, condition
from .traffic import missing_revisions, needs_instance, resolve, route_failure, weights

LOG = logging.getLogger(__name__)


class Reconciler:
    """Runs reconciliations on worker threads, one at a time per service."""

    def __init__(self, store: Store, runtime, routers, grace_s: float = 3.0,
                 min_delay_s: float = 0.3):
        self.store = store
        self.runtime = runtime
        self.routers = routers
        self.grace_s = grace_s
        self.min_delay_s = min_delay_s  # operations are never done on the first answer
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="cloudrun-reconcile")
        self.timers: set[threading.Timer] = set()

    # -- entry points --------------------------------------------------------------------
    def submit(self, record: ServiceRecord, op_name: str) -> None:
        """Reconcile `record` in the background and finish operation `op_name`."""
        self.pool.submit(self._guarded, self._reconcile, record, op_name)

    def submit_delete(self, record: ServiceRecord, op_name: str, snapshot: dict) -> None:
        """Tear a deleted service down in the background."""
        self.pool.submit(self._guarded, self._delete, record, op_name, snapshot)

    def submit_revision_delete(self, record: ServiceRecord, revision: RevisionRecord, op_name: str,
                               snapshot: dict) -> None:
        """Remove a deleted revision's containers in the background."""
        self.pool.submit(self._guarded, self._delete_revision, record, revision, op_name, snapshot)

    def _guarded(self, func, *args) -> None:
        time.sleep(self.min_delay_s)
        op_name = next(a for a in args if isinstance(a, str))
        try:
            func(*args)
        except Exception as exc:  # noqa: BLE001 - an op must never stay pending forever
            self.store.finish_operation(op_name, None, ApiError("INTERNAL", f"emulator: {exc}"))

    # -- service reconcile ---------------------------------------------------------------
    def _reconcile(self, record: ServiceRecord, op_name: str) -> None:
        with record.reconcile_lock:
            if record.deleted:
                self.store.finish_operation(op_name, None, ApiError("ABORTED", "Service deleted."))
                return
            config_error = self._check_latest(record)
            route_error = self._route(record)
            error = config_error or route_error
            with self.store.lock:
                self._set_status(record, config_error, route_error)
                self.store.finish_operation(op_name, record.data, error)

    def _check_latest(self, record: ServiceRecord) -> ApiError | None:
        with self.store.lock:
            revision = record.revisions.get(record.latest_created() or "")
        if revision is None:
            return None
        if revision.state not in (READY, FAILED):
            self._start(record, revision)
        if revision.state == FAILED:
            return precondition(revision.failure.message)
        return None

    def _route(self, record: ServiceRecord) -> ApiError | None:
        with self.store.lock:
            traffic = list(record.data.get("traffic", []))
            gone = missing_revisions(traffic, set(record.revisions))
            latest = record.revisions.get(record.latest_created() or "")
            ready_now = latest is not None and latest.state == READY
            latest_ready = latest.name if ready_now else record.latest_ready()
        if gone:
            return route_failure(gone[0])
        statuses = resolve(traffic, latest_ready)
        for name in sorted(needs_instance(statuses)):
            with self.store.lock:
                revision = record.revisions.get(name)
            if revision is None:
                return route_failure(name)
            if revision.instance is None:
                self._start(record, revision)
            if revision.state != READY:
                return precondition(revision.failure.message)
        self._switch(record, statuses, latest_ready)
        return None

    def _switch(self, record: ServiceRecord, statuses: list[dict],
                latest_ready: str | None) -> None:
        keep = needs_instance(statuses)
        with self.store.lock:
            urls = {n: r.instance.url for n, r in record.revisions.items() if r.instance}
            table = [(n, urls[n], p) for n, p in weights(statuses).items()]
            tags = {s["tag"]: (s["revision"], urls[s["revision"]]) for s in statuses
                    if s.get("tag") and s.get("revision") in urls}
            idle = [r for n, r in record.revisions.items() if r.instance and n not in keep]
        tag_urls = self.routers.update(record, table, tags)
        with self.store.lock:
            for status in statuses:
                if status.get("tag") in tag_urls:
                    status["uri"] = tag_urls[status["tag"]]
            record.data["trafficStatuses"] = statuses
            if latest_ready:
                record.data["latestReadyRevision"] = record.revision_name(latest_ready)
        for revision in idle:
            self._retire_later(record, revision)

    def _set_status(self, record: ServiceRecord, config_error, route_error) -> None:
        data = record.data
        ok = config_error is None and route_error is None
        if ok:
            data["observedGeneration"] = data["generation"]
            data["terminalCondition"] = condition("Ready", "CONDITION_SUCCEEDED")
        else:
            message = (config_error or route_error).message
            data["terminalCondition"] = condition("Ready", "CONDITION_FAILED", message,
                                                  reason="REVISION_FAILED")
        data["conditions"] = [
            _sub("RoutesReady", route_error), _sub("ConfigurationsReady", config_error)]
        data["reconciling"] = False

    # -- data plane ----------------------------------------------------------------------
    def _start(self, record: ServiceRecord, revision: RevisionRecord) -> None:
        try:
            instance = self.runtime.start(record.name, revision.name, revision.template,
                                          record.data["uid"])
        except StartFailure as failure:
            with self.store.lock:
                mark_failed(revision, failure)
            return
        with self.store.lock:
            revision.instance = instance
            mark_ready(revision)
            orphan = record.deleted or revision.name not in record.revisions
        if orphan:
            self.runtime.stop(instance)

    def _retire_later(self, record: ServiceRecord, revision: RevisionRecord) -> None:
        self.timers = {t for t in self.timers if t.is_alive()}
        timer = threading.Timer(self.grace_s, self._retire, (record, revision))
        timer.daemon = True
        self.timers.add(timer)
        timer.start()

    def _retire(self, record: ServiceRecord, revision: RevisionRecord) -> None:
        try:
            self._retire_now(record, revision)
        except Exception:  # noqa: BLE001 - a timer thread has no caller to tell
            LOG.exception("retiring revision %s failed", revision.name)

    def _retire_now(self, record: ServiceRecord, revision: RevisionRecord) -> None:
        with record.reconcile_lock:
            with self.store.lock:
                serving = needs_instance(record.data.get("trafficStatuses", []))
                still_idle = revision.name not in serving
                instance = revision.instance if still_idle else None
                if instance:
                    revision.instance = None
            if instance:
                self.runtime.stop(instance)

    def _delete(self, record: ServiceRecord, op_name: str, snapshot: dict) -> None:
        with record.reconcile_lock:
            self.routers.close(record)
            for revision in list(record.revisions.values()):
                revision.instance = None
            self.runtime.remove_containers(record.data["uid"])
            self.store.finish_operation(op_name, snapshot)

    def _delete_revision(self, record: ServiceRecord, revision: RevisionRecord, op_name: str,
                         snapshot: dict) -> None:
        instance, revision.instance = revision.instance, None
        if instance:
            self.runtime.stop(instance)
        self.runtime.remove_containers(record.data["uid"], revision.name)
        self.store.finish_operation(op_name, snapshot)

    def close(self) -> None:
        """Cancel pending retirements and wait for running reconciliations."""
        for timer in list(self.timers):
            timer.cancel()
        self.pool.shutdown(wait=True, cancel_futures=True)


def _sub(kind: str, error: ApiError | None) -> dict:
    if error is None:
        return condition(kind, "CONDITION_SUCCEEDED")
    return condition(kind, "CONDITION_FAILED", error.message, reason="REVISION_FAILED")
