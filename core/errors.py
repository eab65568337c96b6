"""Typed errors. Each carries what the user must know to act; the CLI maps them to exit codes.

Exit codes (a contract scripts rely on, listed in the README's CLI section):

====  ==========================================================================================
0     success (``plan --detailed-exitcode``: success and nothing would change)
1     an operation failed; what it had done was undone (``undone`` in the error's JSON says so)
2     bad input (spec, arguments, missing files, unknown names, an unknown image digest),
      detected before anything is built, journaled or any cloud touched
3     the deployment is locked by another live process; nothing was touched: wait and try again
      (or pass ``--wait-lock SECONDS``)
4     an unfinished operation (or a lock whose holder died) blocks the deployment: run
      ``modelport resume`` or ``modelport abort`` (``--break-lock`` for a dead holder's lock)
10    ``plan --detailed-exitcode``: success, and applying the plan would change something
====  ==========================================================================================

Every error's JSON (:meth:`ModelportError.to_dict`) carries ``error`` (the type), ``message``,
``exit_code``, ``hint`` when there is one, and the fields of its type (target, deployment,
revision, operation, holder, gate figures, ``undone``...), never a JSON string inside JSON.
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_LOCKED = 3
EXIT_UNFINISHED = 4
EXIT_CHANGES = 10

#: fields every error may carry once the engine knows them (filled by :meth:`ModelportError.add`)
CONTEXT_FIELDS = ("deployment", "target", "revision", "operation", "kind", "step", "undone", "rollback_problems")


class ModelportError(Exception):
    """Base of every error modelport raises on purpose. ``details`` holds its fields (plain JSON
    data); the engine adds what it knows where it catches the error (:meth:`add`)."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        from .redact import redact  # a message may quote a cloud's reply, which may quote a secret

        message, hint = redact(message), redact(hint)
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: dict[str, Any] = {}
        self.add(**details)

    def add(self, **details: Any) -> "ModelportError":
        """Set fields not set yet (None values are skipped; text is redacted); returns self."""
        for key, value in details.items():
            if value is not None and key not in self.details:
                self.details[key] = _redacted(value)
        return self

    def to_dict(self) -> dict:
        """A JSON-ready description (for ``--output json``): type, message, exit code, hint, fields."""
        out = {"error": type(self).__name__, "message": self.message, "exit_code": self.exit_code}
        if self.hint:
            out["hint"] = self.hint
        return {**out, **self.details}

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


def _redacted(value: Any) -> Any:
    """``value`` with every secret this process read removed from its text, at any depth."""
    from .redact import redact

    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v) for v in value]
    return value


class UsageError(ModelportError):
    """Bad input: arguments, files, names. Nothing was touched."""

    exit_code = EXIT_BAD_INPUT


class SpecError(UsageError):
    """A ``modelport.toml`` problem, naming the file and the field path."""

    def __init__(self, file: str, field: str, reason: str, *, hint: str | None = None) -> None:
        from .redact import redact

        self.file, self.field, self.reason = file, field, redact(reason)
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {reason}", hint=hint)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "file": self.file, "field": self.field, "reason": self.reason}


class SpecErrors(UsageError):
    """Several spec problems found at once (all are reported, not just the first)."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = errors
        super().__init__("\n".join(e.message + (f" ({e.hint})" if e.hint else "") for e in errors))

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        return {"error": "SpecError", "message": self.message, "exit_code": self.exit_code,
                "errors": [e.to_dict() for e in self.errors]}


class NotFound(UsageError):
    """A named deployment, target, revision or provider does not exist."""


class ImageNotFound(NotFound):
    """An image digest that neither the local image store nor the registry asked holds (checked
    before anything is journaled)."""

    def __init__(self, digest: str, where: list[str], *, hint: str | None = None) -> None:
        super().__init__(f"image {digest} was not found in {' or '.join(where)}",
                         hint=hint or "build it here (modelport build) or name a digest that a target runs",
                         digest=digest, searched=where)


class PluginError(ModelportError):
    """A plugin failed to load or broke the provider contract; names the plugin."""

    def __init__(self, plugin: str, message: str, *, hint: str | None = None) -> None:
        self.plugin = plugin
        super().__init__(f"plugin {plugin!r}: {message}", hint=hint, plugin=plugin)


class ProviderError(ModelportError):
    """A cloud call failed. ``retryable`` says whether trying again may succeed. (In the JSON the
    failed call is ``call``: ``operation`` is the journaled operation's id there.)"""

    def __init__(self, provider: str, operation: str, message: str, *,
                 retryable: bool = False, hint: str | None = None) -> None:
        self.provider, self.operation, self.retryable = provider, operation, retryable
        super().__init__(f"{provider}: {operation} failed: {message}", hint=hint,
                         provider=provider, call=operation, retryable=retryable)


class CapabilityError(UsageError):
    """The target's provider cannot do what was asked (e.g. canary without traffic split)."""


class BuildError(ModelportError):
    """The image could not be built."""


class HealthGateFailed(ModelportError):
    """A revision did not become ready or answered the smoke request wrongly; traffic was restored.
    Its fields say which check failed (``check``) and, where the check measures something, what
    was ``expected`` and what was ``actual``; the engine adds the deployment, target, revision,
    operation and whether the operation was ``undone``."""

    def __init__(self, message: str, *, hint: str | None = None, check: str | None = None,
                 expected: Any = None, actual: Any = None, **details: Any) -> None:
        super().__init__(message, hint=hint, check=check, expected=expected, actual=actual, **details)


class LockHeld(ModelportError):
    """Another process holds the deployment's lock. Exit code 3 while that process lives (nothing
    was touched: try again later, or ``--wait-lock``), 4 when it is gone (``stale``: recover)."""

    def __init__(self, deployment: str, holder: str, *, stale: bool = False,
                 lock: dict[str, Any] | None = None) -> None:
        self.deployment, self.holder, self.stale = deployment, holder, stale
        self.exit_code = EXIT_UNFINISHED if stale else EXIT_LOCKED
        hint = ("the holder is dead: run `modelport resume` or `modelport abort`, or pass "
                "--break-lock" if stale else "wait for it to finish, or pass --wait-lock SECONDS")
        lock = lock or {}
        super().__init__(f"deployment {deployment!r} is locked by {holder}", hint=hint, deployment=deployment,
                         holder=lock.get("holder", holder), stale=stale, pid=lock.get("pid"),
                         host=lock.get("host"), user=lock.get("user"), operation=lock.get("operation"),
                         heartbeat_age=lock.get("heartbeat_age"), lease_ttl=lock.get("ttl"),
                         lease_expired=lock.get("expired"))


class LeaseLost(ModelportError):
    """This process's lease on a deployment was broken (it stopped heartbeating long enough for
    its lease to expire and another process took the lock): it must not write anything more."""

    def __init__(self, deployment: str, detail: str = "") -> None:
        self.deployment = deployment
        super().__init__(f"the lock on deployment {deployment!r} was taken over by another process"
                         + (f" ({detail})" if detail else "") + "; this process stopped without writing",
                         hint=f"see `modelport history {deployment}` for what the new holder did",
                         deployment=deployment, undone=False)


class UnfinishedOperation(ModelportError):
    """A previous operation on the deployment was interrupted and must be resumed or aborted.
    Its fields: ``deployment``, ``operation``, ``kind``, ``steps_done`` and ``steps_left`` (each
    step's index, kind, target and description), ``abort_would_undo`` (the steps ``abort`` would
    reverse, latest first) and ``abort_possible`` (false when a started step cannot be undone)."""

    exit_code = EXIT_UNFINISHED
