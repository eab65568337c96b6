"""Retry policy for registry calls: connection errors, 5xx and 429 retry with backoff.

A 429 or 503 that carries ``Retry-After`` waits what the registry asked (capped), otherwise the
wait grows exponentially with jitter. When attempts run out the caller gets
:class:`~.errors.RegistryUnavailable` naming the registry, the step and the last failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeVar

from .errors import RegistryUnavailable
from .http import TransportError

T = TypeVar("T")


class TransientStatus(Exception):
    """A retryable HTTP status (5xx, 429) seen during one attempt."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"HTTP {status}")


@dataclass(frozen=True)
class RegistryRetryPolicy:
    """How often and how patiently to retry a registry's transient HTTP failures (``attempts``
    includes the first). Provider calls have their own policy:
    :class:`modelport.engine.retry.ProviderRetryPolicy`."""

    attempts: int = 5
    initial_wait: float = 0.5
    max_wait: float = 30.0


TRANSIENT = (TransientStatus, TransportError)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (only the delta-seconds form is honoured)."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None


def run_with_retry(policy: RegistryRetryPolicy, fn: Callable[[], T], *, registry: str, step: str) -> T:
    """Call ``fn`` until it succeeds or ``policy`` gives up on transient errors.

    The first attempt runs bare: most calls succeed at once, and tenacity (about 15 ms to import,
    a tenth of a ``modelport copy`` that finds everything already there) is loaded only when one
    fails. Tenacity then counts that failure as its own first attempt, so the waits and the number
    of attempts are exactly those of ``policy``."""
    try:
        return fn()
    except TRANSIENT as exc:
        return _retry_after_first(policy, fn, exc, registry=registry, step=step)


def _retry_after_first(policy: RegistryRetryPolicy, fn: Callable[[], T], first: BaseException, *,
                       registry: str, step: str) -> T:
    import tenacity

    backoff = tenacity.wait_exponential_jitter(multiplier=policy.initial_wait, max=policy.max_wait)
    pending = [first]

    def attempt() -> T:
        if pending:  # the failure already seen is attempt 1: tenacity waits as after any failure
            raise pending.pop()
        return fn()

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientStatus) and exc.retry_after is not None:
            return min(exc.retry_after, policy.max_wait)
        return backoff(state)

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max(1, policy.attempts)),
        wait=wait,
        retry=tenacity.retry_if_exception_type(TRANSIENT),
        reraise=True,
    )
    try:
        return retrying(attempt)
    except TRANSIENT as exc:
        raise RegistryUnavailable(
            f"gave up after {policy.attempts} attempt(s): {_describe(exc)}", registry=registry, step=step
        ) from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TransientStatus):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
