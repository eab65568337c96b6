"""The one interface every state backend implements (SQLite, PostgreSQL, S3, Azure Blob).

A backend stores rows (dicts with the columns of :data:`~modelport.state.model.TABLES`, JSON
fields as text) and lock records, and makes each call atomic on its own. What is shared by every
backend -- when a lock is stale, heartbeats, which writes are fenced -- lives once in
:class:`~modelport.state.store.StateStore`.

Fencing: every write takes ``fence``, the token of the lease the writer holds on the deployment
(or None for a write made without a lock). A backend performs a fenced write only if that lease
is still the deployment's current one, in the same atomic step as the write, and raises
:class:`~modelport.errors.LeaseLost` otherwise: a process whose lease was broken cannot write.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from .model import Holder, LockRecord

Row = dict[str, Any]


class Backend(ABC):
    """A state store's storage. ``display`` names it for people (never with a password)."""

    display: str = ""

    # -- locks (leases) ---------------------------------------------------------------------------
    @abstractmethod
    def lock_read(self, name: str) -> LockRecord | None:
        """The deployment's lock record, with its age and expiry by the store's clock."""

    @abstractmethod
    def lock_create(self, name: str, who: Holder, ttl: float) -> str | None:
        """Take a free lock: the new lease's token, or None when a lock record exists."""

    @abstractmethod
    def lock_replace(self, name: str, seen: LockRecord, who: Holder, ttl: float) -> str | None:
        """Break the lock ``seen`` and take it, only if it is still exactly ``seen`` (of two
        breakers exactly one wins): the new token, or None. Later writes fenced by the broken
        lease's token fail."""

    @abstractmethod
    def lock_heartbeat(self, name: str, token: str, ttl: float) -> bool:
        """Renew the lease; False when it is no longer this token's (broken by someone else)."""

    @abstractmethod
    def lock_set_operation(self, name: str, token: str, operation: int) -> None:
        """Record which operation the lease's holder runs."""

    @abstractmethod
    def lock_release(self, name: str, token: str) -> None:
        """Remove the lock if it is still this token's (a no-op otherwise)."""

    # -- the operations journal ---------------------------------------------------------------------
    @abstractmethod
    def insert_operation(self, row: Row, fence: str | None) -> int:
        """Journal a new operation (``row`` without ``id``); its id, unique in the store."""

    @abstractmethod
    def update_operation(self, name: str, op: int, fields: Row, fence: str | None) -> None:
        """Set ``fields`` of operation ``op`` of deployment ``name``."""

    @abstractmethod
    def get_operation(self, op: int) -> Row | None:
        """Operation ``op``, or None."""

    @abstractmethod
    def list_operations(self, name: str) -> list[Row]:
        """The operations on ``name``, oldest first."""

    # -- deployments, revisions, events -------------------------------------------------------------
    @abstractmethod
    def upsert_deployment(self, row: Row, fence: str | None) -> None:
        """Insert or update (name, target); a None ``spec_file`` keeps the recorded one."""

    @abstractmethod
    def delete_deployment(self, name: str, target: str, ts: float, fence: str | None) -> None:
        """Forget (name, target) and mark its live revisions deleted at ``ts``."""

    @abstractmethod
    def list_deployments(self, name: str | None, target: str | None) -> list[Row]:
        """Deployments, by name then target."""

    @abstractmethod
    def upsert_revision(self, row: Row, fence: str | None) -> None:
        """Insert or update (name, target, revision), clearing ``deleted``."""

    @abstractmethod
    def set_revision_deleted(self, name: str, target: str, revision: str, ts: float, fence: str | None) -> None:
        """Mark a revision deleted at ``ts``."""

    @abstractmethod
    def list_revisions(self, name: str, target: str | None) -> list[Row]:
        """Revisions of ``name`` (on ``target``), oldest first."""

    @abstractmethod
    def insert_event(self, row: Row, fence: str | None) -> None:
        """Append an event (``row`` without ``id``)."""

    @abstractmethod
    def list_events(self, name: str) -> list[Row]:
        """Events of ``name``, oldest first."""

    # -- whole-store copies (``modelport state migrate``) ----------------------------------------------
    @abstractmethod
    def dump(self) -> dict[str, list[Row]]:
        """Every row of every table (locks excluded), ids kept."""

    @abstractmethod
    def load(self, tables: dict[str, list[Row]]) -> None:
        """Write a :meth:`dump` into this (empty) store, keeping ids; later ids continue after them."""

    def close(self) -> None:
        """Release connections (the default holds none)."""
