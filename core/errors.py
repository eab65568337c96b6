"""Typed errors. Each carries what the user must know to act; the CLI maps them to exit codes.

Exit codes (a contract scripts rely on): 0 success, 1 an operation failed, 2 bad input
(spec, arguments, missing files, unknown names) — detected before any cloud is touched.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class ModelportError(Exception):
    """Base of every error modelport raises on purpose."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        from .redact import redact  # a message may quote a cloud's reply, which may quote a secret

        message, hint = redact(message), redact(hint)
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict:
        """A JSON-ready description (for ``--output json``)."""
        out = {"error": type(self).__name__, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


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
        return {"error": "SpecError", "message": self.message,
                "errors": [e.to_dict() for e in self.errors]}


class NotFound(UsageError):
    """A named deployment, target, revision or provider does not exist."""


class PluginError(ModelportError):
    """A plugin failed to load or broke the provider contract; names the plugin."""

    def __init__(self, plugin: str, message: str, *, hint: str | None = None) -> None:
        self.plugin = plugin
        super().__init__(f"plugin {plugin!r}: {message}", hint=hint)


class ProviderError(ModelportError):
    """A cloud call failed. ``retryable`` says whether trying again may succeed."""

    def __init__(self, provider: str, operation: str, message: str, *,
                 retryable: bool = False, hint: str | None = None) -> None:
        self.provider, self.operation, self.retryable = provider, operation, retryable
        super().__init__(f"{provider}: {operation} failed: {message}", hint=hint)


class CapabilityError(UsageError):
    """The target's provider cannot do what was asked (e.g. canary without traffic split)."""


class BuildError(ModelportError):
    """The image could not be built."""


class HealthGateFailed(ModelportError):
    """A revision did not become ready or answered the smoke request wrongly; traffic was restored."""


class LockHeld(ModelportError):
    """Another operation holds the deployment's lock."""

    def __init__(self, deployment: str, holder: str, *, stale: bool = False) -> None:
        self.deployment, self.holder, self.stale = deployment, holder, stale
        hint = ("the holder is dead: run `modelport resume` or `modelport abort`, or pass "
                "--break-lock" if stale else "wait for it to finish")
        super().__init__(f"deployment {deployment!r} is locked by {holder}", hint=hint)


class LeaseLost(ModelportError):
    """This process's lease on a deployment was broken (it stopped heartbeating long enough for
    its lease to expire and another process took the lock): it must not write anything more."""

    def __init__(self, deployment: str, detail: str = "") -> None:
        self.deployment = deployment
        super().__init__(f"the lock on deployment {deployment!r} was taken over by another process"
                         + (f" ({detail})" if detail else "") + "; this process stopped without writing",
                         hint=f"see `modelport history {deployment}` for what the new holder did")


class UnfinishedOperation(ModelportError):
    """A previous operation on the deployment was interrupted and must be resumed or aborted."""
