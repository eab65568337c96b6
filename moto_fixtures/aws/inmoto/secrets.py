"""Secrets Manager: a force-deleted secret's name is free only once the deletion completes.

Source: DeleteSecret ``ForceDeleteWithoutRecovery``
(https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html):
"Secrets Manager performs the actual deletion with an asynchronous background process, so there
might be a short delay before the secret is permanently deleted. If you delete a secret and then
immediately create a secret with the same name, use appropriate back off and retry logic." and
"If you forcibly delete an already deleted or nonexistent secret, the operation does not return
ResourceNotFoundException." Until the purge, CreateSecret with the name fails with
``InvalidRequestException: You can't create this secret because a secret with this name is
already scheduled for deletion.`` (the text users report, and the one AWS's knowledge center
answers by polling DescribeSecret: https://repost.aws/knowledge-center/delete-secrets-manager-secret).

moto removes a force-deleted secret at once and lets a scheduled-for-deletion name be created
again; here the secret stays marked deleted (DescribeSecret shows ``DeletedDate``, reads fail,
ListSecrets hides it) for ``FORCE_DELETE_SECONDS``, then is purged.
"""

from __future__ import annotations

import math
import time

FORCE_DELETE_SECONDS = 2.0  # the "short delay" of the asynchronous purge
SCHEDULED = ("You can't create this secret because a secret with this name is already scheduled "
             "for deletion.")


def create_error(existing_deleted: bool | None) -> str | None:
    """The InvalidRequestException message CreateSecret gives when the name's secret is
    ``existing_deleted`` (None: no secret has the name)."""
    return SCHEDULED if existing_deleted else None


def purge(backend, now: float | None = None) -> None:
    """Remove force-deleted secrets whose asynchronous deletion has completed."""
    now = time.time() if now is None else now
    for name, secret in list(dict.items(backend.secrets)):
        if now >= getattr(secret, "_mf_purge_at", math.inf):
            dict.pop(backend.secrets, name)


def _purging(method):
    def wrapper(self, *args, **kwargs):
        purge(self)
        return method(self, *args, **kwargs)
    wrapper.__name__ = method.__name__
    return wrapper


def install() -> None:
    """Patch moto's Secrets Manager backend."""
    from moto.secretsmanager.exceptions import InvalidRequestException
    from moto.secretsmanager.models import FakeSecret, SecretsManagerBackend as Backend

    create_secret, delete_secret = Backend.create_secret, Backend.delete_secret

    def patched_create_secret(self, name, *args, **kwargs):
        purge(self)
        existing = self.secrets.get(name)
        error = create_error(existing.is_deleted() if existing is not None else None)
        if error:
            raise InvalidRequestException(error)
        return create_secret(self, name, *args, **kwargs)

    def patched_delete_secret(self, secret_id, recovery_window_in_days, force_delete_without_recovery):
        purge(self)
        secret = self.secrets.get(secret_id) if self._is_valid_identifier(secret_id) else None
        if (not force_delete_without_recovery or recovery_window_in_days is not None
                or not isinstance(secret, FakeSecret) or secret.replicas):
            return delete_secret(self, secret_id, recovery_window_in_days, force_delete_without_recovery)
        now = time.time()
        if not secret.is_deleted():
            secret.delete(now)
        secret._mf_purge_at = min(getattr(secret, "_mf_purge_at", math.inf), now + FORCE_DELETE_SECONDS)
        return secret.arn, secret.name, now

    Backend.create_secret = patched_create_secret
    Backend.delete_secret = patched_delete_secret
    for name in ("describe_secret", "get_secret_value", "list_secrets", "put_secret_value",
                 "restore_secret", "update_secret", "tag_resource"):
        setattr(Backend, name, _purging(getattr(Backend, name)))
