"""What was deployed where: deployments, revisions, the operations journal, events and locks.

One store interface (:class:`StateStore`) on several backends, chosen by ``MODELPORT_STATE`` or
``--state`` (see :mod:`.url`): a SQLite file (the default), PostgreSQL, S3 or Azure Blob. The
cloud stays the source of truth; the store records history, makes interrupted operations
resumable, and holds each deployment's lock as a lease that works across machines. It never
holds secret values.
"""

from __future__ import annotations

from .model import (ABORTED, FAILED, INTERRUPTED, ROLLED_BACK, RUNNING, SUCCEEDED, Holder, LockRecord,
                    Operation)
from .store import StateStore, describe, is_stale, lock_ttl
from .url import SCHEMES, check_url, default_state_path, default_state_url

__all__ = ["ABORTED", "FAILED", "INTERRUPTED", "ROLLED_BACK", "RUNNING", "SCHEMES", "SUCCEEDED", "Holder",
           "LockRecord", "Operation", "StateStore", "check_url", "default_state_path", "default_state_url",
           "describe", "is_stale", "lock_ttl"]
