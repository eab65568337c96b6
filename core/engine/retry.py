"""Retrying provider primitives that are safe to repeat, with exponential backoff and jitter.

A cloud call that fails with ``ProviderError(retryable=True)`` (throttling, a 5xx, a timeout, a
dropped connection: what the SDKs' own retries did not absorb) is tried again when the step's
primitive may be repeated without harm: reads (``observe``, ``health``), and the writes the
Provider contract makes idempotent (``ensure_infrastructure``, ``create_revision`` for the same
name and config, ``update_revision`` to the same config, ``delete_revision``, ``set_traffic`` to
the same weights, ``destroy``). Anything else, and any non-retryable error, fails at once and
the executor rolls back.

The bound is a number of attempts and a total time; ``MODELPORT_RETRY_ATTEMPTS`` and
``MODELPORT_RETRY_MAX_WAIT`` (seconds between two attempts) override the defaults, e.g. to keep
tests short or to wait longer behind a strict API quota.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, TypeVar

from tenacity import (RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay,
                      wait_exponential_jitter)

from ..errors import ProviderError
from ..redact import redact
from .events import RetryScheduled
from .steps import retry_safe_primitives

T = TypeVar("T")

#: provider primitives that may be repeated after a failure without changing the outcome: the
#: reads, and the writes of the step kinds that declare ``retry_safe`` (``steps.py``)
SAFE = frozenset({"observe", "health"}) | retry_safe_primitives()


@dataclass(frozen=True)
class ProviderRetryPolicy:
    """How often and how patiently a safe provider primitive is retried (the registry client has
    its own policy for HTTP calls: :class:`modelport.registry.RegistryRetryPolicy`)."""

    attempts: int = 4          # tries in all, the first included
    initial: float = 0.5       # first wait (seconds); doubles each time, plus up to ``jitter``
    max_wait: float = 4.0      # longest wait between two tries
    jitter: float = 0.5
    total: float = 60.0        # no new try starts after this many seconds

    @classmethod
    def from_env(cls) -> "ProviderRetryPolicy":
        """The defaults, with ``MODELPORT_RETRY_ATTEMPTS`` / ``MODELPORT_RETRY_MAX_WAIT`` applied."""
        attempts = int(os.environ.get("MODELPORT_RETRY_ATTEMPTS", cls.attempts))
        max_wait = float(os.environ.get("MODELPORT_RETRY_MAX_WAIT", cls.max_wait))
        return cls(attempts=max(1, attempts), initial=min(cls.initial, max_wait), max_wait=max_wait,
                   jitter=min(cls.jitter, max_wait))


def retryable(exc: BaseException) -> bool:
    """Whether trying again may succeed (the provider said so)."""
    return isinstance(exc, ProviderError) and exc.retryable


def call(fn: Callable[[], T], primitive: str, policy: ProviderRetryPolicy, report: Callable[[str], None],
         what: str, emit: Callable[[RetryScheduled], None] | None = None) -> T:
    """Run ``fn`` (one call of ``primitive``); retry it under ``policy`` when the primitive is
    safe to repeat and the error is retryable. Each retry is reported (as a
    :class:`~modelport.engine.events.RetryScheduled` event to ``emit`` when given, else as text
    to ``report``); the last error is raised."""
    if primitive not in SAFE or policy.attempts <= 1:
        return fn()

    def before_sleep(state: RetryCallState) -> None:
        event = RetryScheduled(what=what, attempt=state.attempt_number + 1, attempts=policy.attempts,
                               wait=round(state.next_action.sleep, 2),
                               error=redact(str(state.outcome.exception())))
        if emit is not None:
            emit(event)
        else:
            report(f"  {event.text()}")

    retrying = Retrying(stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.total),
                        wait=wait_exponential_jitter(multiplier=policy.initial, max=policy.max_wait,
                                                     jitter=policy.jitter),
                        retry=retry_if_exception(retryable), before_sleep=before_sleep, reraise=True)
    return retrying(fn)
