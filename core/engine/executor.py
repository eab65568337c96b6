"""Runs a Plan exactly, one journaled step at a time, and undoes it when a step fails.

The executor never decides what to do: the plan did, and each step's kind says how it runs and
how it is undone (``steps.py``). It holds the deployment's lock for the whole operation, writes
each finished step to the journal (so a killed process can be resumed or aborted by the next
command), and on failure undoes the finished steps in reverse order, which returns traffic to the
previous revisions and removes what the operation created. A cloud call that fails with a
retryable error is tried again first when its primitive is safe to repeat (``retry.py``), in
steps and in undos alike.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import LeaseLost, LockHeld, ModelportError
from ..provider import Observed, Provider, Target
from ..state import ABORTED, FAILED, SUCCEEDED, StateStore
from . import gate as gates
from . import retry as retries
from .events import (Event, GateFinished, GateStarted, LockWaiting, OperationFinished, OperationStarted,
                     StepFinished, StepStarted, StepUndone)
from .plan import Plan
from .recovery import interrupted
from .steps import Step

Binding = tuple[Provider, Target]


@dataclass
class Result:
    """The outcome of an applied plan."""

    operation: int | None
    plan: Plan
    status: str
    endpoint: str | None = None
    revision: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: operation, status, endpoint, revision, plan and the outputs."""
        return {"operation": self.operation, "status": self.status, "endpoint": self.endpoint,
                "revision": self.revision, "plan": self.plan.to_dict(), **self.outputs}

    def __getitem__(self, key: str) -> Any:  # ``abort`` used to return a dict
        return self.to_dict()[key]


@dataclass
class ExecutionContext:
    """What steps need besides their own data (the state store, the providers bound to the plan's
    targets, the smoke request, secrets, images); rebuilt from the journal's context on resume."""

    state: StateStore
    bindings: dict[str, Binding]
    smoke: gates.Smoke
    gate_timeout: float
    secret_values: Callable[[Binding, dict[str, str]], dict[str, str]]
    images: Any  # an ImageMover: push(binding, deployment, digest), copy(binding, source, deployment, ref)
    report: Callable[[str], None] = lambda _m: None
    spec_file: str | None = None
    before_step: Callable[[int, Step], None] | None = None  # called with (index, step) before each step
    retry: retries.ProviderRetryPolicy = field(default_factory=retries.ProviderRetryPolicy.from_env)
    emit: Callable[[Event], None] | None = None  # typed events (default: their text to ``report``)
    wait_lock: float = 0.0  # seconds to wait for a lock a live process holds
    analysis: Any = None    # an analysis.Analysis: what gates watch during their bake (None: smoke only)
    validation: Any = None  # a validation.Validation: the evaluation set gate (None: no [validation])
    operation: int | None = None  # the journaled operation being run (set by apply/resume)

    def event(self, event: Event) -> None:
        """Send ``event`` to ``emit`` (or its text to ``report``)."""
        if self.emit is not None:
            self.emit(event)
        else:
            self.report(event.text())

    def binding(self, target: str) -> Binding:
        """The provider and target a step names."""
        return self.bindings[target]

    def call(self, primitive: str, what: str, fn: Callable[[], Any]) -> Any:
        """Call ``fn`` (one ``primitive`` call), retried per ``retry`` when that is safe."""
        return retries.call(fn, primitive, self.retry, self.report, what, emit=self.event)

    def observe(self, provider: Provider, target: Target, deployment: str) -> Observed:
        """``provider.observe``, retried like every read."""
        return self.call("observe", f"read {deployment} on {target.name}", lambda: provider.observe(target, deployment))


def holder_name(kind: str) -> str:
    """How this process names itself as a lock holder running ``kind``."""
    return f"modelport {kind} (pid {os.getpid()} on {socket.gethostname()})"


def take_lock(state: StateStore, name: str, holder: str, *, break_stale: bool = False, wait: float = 0.0,
              emit: Callable[[Event], None] = lambda _e: None) -> None:
    """Take the deployment's lock; while a live process holds it, wait up to ``wait`` seconds for
    it (polling, an event every 10 s) before raising :class:`LockHeld`. A dead holder's lock is
    never waited for: only resume/abort or ``break_stale`` settle it."""
    _waiting(lambda: state.acquire_lock(name, holder, break_stale=break_stale), name, wait, emit)


def wait_lock_free(state: StateStore, name: str, *, wait: float = 0.0,
                   emit: Callable[[Event], None] = lambda _e: None) -> None:
    """:meth:`StateStore.check_lock` (fail fast, before building), waiting like :func:`take_lock`."""
    _waiting(lambda: state.check_lock(name), name, wait, emit)


def _waiting(attempt: Callable[[], None], name: str, wait: float, emit: Callable[[Event], None]) -> None:
    started = time.monotonic()
    said = None
    while True:
        try:
            return attempt()
        except LockHeld as exc:
            waited = time.monotonic() - started
            if exc.stale or waited >= wait:
                raise exc.add(waited=round(waited, 1) if wait else None)
            if said is None or waited - said >= 10:
                said = waited
                emit(LockWaiting(deployment=name, holder=exc.holder, waited=round(waited, 1), wait_lock=wait))
            time.sleep(min(0.5, max(0.05, wait - waited)))


def check_unfinished(state: StateStore, name: str) -> None:
    """Refuse to start while an interrupted operation on ``name`` waits for resume/abort."""
    op = state.unfinished(name)
    if op is not None:
        raise interrupted(op)


def apply(plan: Plan, ctx: ExecutionContext, context: dict[str, Any], break_lock: bool = False) -> Result:
    """Execute ``plan`` under the deployment's lock; undo on failure and re-raise. ``context`` is
    journaled with the plan so that ``resume``/``abort`` can rebuild ``ctx``."""
    if plan.empty:
        return Result(None, plan, "unchanged", **_final(plan, ctx, plan.observed))
    name = plan.deployment
    take_lock(ctx.state, name, holder_name(plan.kind), break_stale=break_lock, wait=ctx.wait_lock, emit=ctx.event)
    try:
        check_unfinished(ctx.state, name)
        op = ctx.state.begin_operation(name, plan.kind, list(plan.targets), holder_name(plan.kind),
                                       plan.journal(), context)
        ctx.state.set_lock_operation(name, op)
        ctx.operation = op
        ctx.state.add_event(name, "operation", f"{plan.kind} started", operation=op,
                            data={"steps": len(plan.steps)})
        ctx.event(OperationStarted(deployment=name, operation=op, kind=plan.kind, targets=list(plan.targets),
                                   steps=len(plan.steps)))
        return _run(plan, ctx, op, start=0)
    finally:
        ctx.state.release_lock(name)


def resume(plan: Plan, ctx: ExecutionContext, op: int, done: int) -> Result:
    """Continue an interrupted operation from its first unfinished step (steps are idempotent)."""
    ctx.state.adopt_operation(op)
    ctx.operation = op
    ctx.state.add_event(plan.deployment, "operation", f"{plan.kind} resumed at step {done + 1}", operation=op)
    ctx.event(OperationStarted(deployment=plan.deployment, operation=op, kind=plan.kind, targets=list(plan.targets),
                               steps=len(plan.steps), resumed_at=done + 1))
    return _run(plan, ctx, op, start=done)


def abort(plan: Plan, ctx: ExecutionContext, op: int, done: int) -> Result:
    """Roll back an interrupted operation: undo every step it may have started. Refused when one
    of those cannot be undone (rolling back the rest would leave nothing serving): resume then."""
    started = plan.steps[:min(done, len(plan.steps) - 1) + 1]
    gone = next((s for s in started if s.irreversible), None)
    if gone is not None:
        raise ModelportError(f"operation #{op} ({plan.kind} of {plan.deployment!r}) cannot be rolled back: "
                             f"step {plan.steps.index(gone) + 1} ({gone.desc}) may have run and cannot be undone",
                             hint=f"run `modelport resume {plan.deployment}` to finish it",
                             deployment=plan.deployment, operation=op, kind=plan.kind, step=plan.steps.index(gone) + 1,
                             undone=False)
    ctx.state.adopt_operation(op)
    t0 = time.monotonic()
    problems = _undo(plan, ctx, op, upto=min(done, len(plan.steps) - 1))
    ctx.state.finish_operation(op, ABORTED, "; ".join(problems) or None)
    ctx.state.add_event(plan.deployment, "operation", f"{plan.kind} aborted and rolled back", operation=op)
    ctx.event(OperationFinished(deployment=plan.deployment, operation=op, kind=plan.kind, status=ABORTED,
                                duration=_since(t0), error="; ".join(problems) or None, undone=True))
    try:  # what serves now, as after any operation; the abort itself is done even if this read fails
        final = _final(plan, ctx)
    except ModelportError as exc:
        final, problems = {}, [*problems, f"reading what serves after the abort failed: {exc}"]
    return Result(op, plan, ABORTED, **final, outputs={"undone_from_step": done + 1, "rollback_problems": problems})


def _since(t0: float) -> float:
    return round(time.monotonic() - t0, 3)


def _said(exc: BaseException) -> str:
    """An exception as an event shows it: its text with every secret value removed (a library's
    error may quote what it was given; modelport's own errors are redacted already)."""
    from ..redact import redact

    return redact(str(exc)) or type(exc).__name__


def _run(plan: Plan, ctx: ExecutionContext, op: int, start: int) -> Result:
    steps = plan.steps
    i = start
    t_op = time.monotonic()
    try:
        for i in range(start, len(steps)):
            step = steps[i]
            if ctx.before_step:
                ctx.before_step(i, step)
            ctx.state.check_lease(plan.deployment)  # broken meanwhile: stop before the next cloud call
            duration = _run_step(plan, ctx, op, i)
            ctx.state.step_done(op, i + 1)
            if step.shown:
                ctx.state.add_event(plan.deployment, step.op, step.desc, target=step.target, operation=op,
                                    data={**step.event_data(), "step": i + 1, "duration": duration})
    except LeaseLost as exc:  # another process owns the deployment now: undoing would fight it
        exc.add(operation=op, kind=plan.kind, step=i + 1)
        raise
    except BaseException as exc:
        _fail(plan, ctx, op, i, exc)
        ctx.event(OperationFinished(deployment=plan.deployment, operation=op, kind=plan.kind, status=FAILED,
                                    duration=_since(t_op), error=_said(exc), undone=True))
        raise
    ctx.state.finish_operation(op, SUCCEEDED)
    ctx.state.add_event(plan.deployment, "operation", f"{plan.kind} succeeded", operation=op)
    ctx.event(OperationFinished(deployment=plan.deployment, operation=op, kind=plan.kind, status=SUCCEEDED,
                                duration=_since(t_op)))
    return Result(op, plan, SUCCEEDED, **_final(plan, ctx))


def _run_step(plan: Plan, ctx: ExecutionContext, op: int, i: int) -> float:
    """Run step ``i`` between its start and finish events (and a gate's); return its duration."""
    step, total, name = plan.steps[i], len(plan.steps), plan.deployment
    where = {"deployment": name, "operation": op}
    ctx.event(StepStarted(**where, index=i + 1, total=total, step=step.op, target=step.target, desc=step.desc))
    revision = getattr(step, "revision", None)
    if step.gate:
        ctx.event(GateStarted(**where, index=i + 1, step=step.op, target=step.target, revision=revision))
    t0 = time.monotonic()
    try:
        step.run(ctx, name)
    except BaseException as exc:
        error = _said(exc)
        if step.gate:
            figures = {k: v for k, v in getattr(exc, "details", {}).items() if k in ("check", "expected", "actual")}
            ctx.event(GateFinished(**where, index=i + 1, step=step.op, target=step.target, revision=revision,
                                   duration=_since(t0), passed=False, error=error, figures=figures))
        ctx.event(StepFinished(**where, index=i + 1, total=total, step=step.op, target=step.target, desc=step.desc,
                               duration=_since(t0), ok=False, error=error))
        raise
    duration = _since(t0)
    if step.gate:
        ctx.event(GateFinished(**where, index=i + 1, step=step.op, target=step.target, revision=revision,
                               duration=duration, passed=True))
    ctx.event(StepFinished(**where, index=i + 1, total=total, step=step.op, target=step.target, desc=step.desc,
                           duration=duration))
    return duration


def _fail(plan: Plan, ctx: ExecutionContext, op: int, failed_at: int, exc: BaseException) -> None:
    """Undo up to step ``failed_at``, journal the failure and say in ``exc`` what was undone."""
    if isinstance(exc, KeyboardInterrupt):
        ctx.report("interrupted: rolling back")
    problems = _undo(plan, ctx, op, upto=failed_at)
    message = str(exc) + (f"; rollback problems: {'; '.join(problems)}" if problems else "")
    ctx.state.finish_operation(op, FAILED, message)
    ctx.state.add_event(plan.deployment, "operation", f"{plan.kind} failed and was rolled back: {exc}",
                        operation=op)
    if isinstance(exc, ModelportError):
        step = plan.steps[failed_at]
        exc.add(deployment=plan.deployment, operation=op, kind=plan.kind, step=failed_at + 1, target=step.target,
                revision=getattr(step, "revision", None), undone=not problems, rollback_problems=problems or None)
        exc.message = (f"{exc.message} — rolled back: previous traffic restored, new revision removed"
                       if not problems else
                       f"{exc.message} — ROLLBACK INCOMPLETE ({'; '.join(problems)}); "
                       f"check `modelport status {plan.deployment}` and `modelport gc`")


#: operations that leave nothing to report an endpoint or a serving revision of
_NOTHING_TO_REPORT = ("destroy", "gc")


def _final(plan: Plan, ctx: ExecutionContext, observed: Observed | None = None) -> dict[str, Any]:
    """Endpoint and serving revision after ``plan``: read again, unless nothing was done and the
    planner's read of the last target (``observed``) is still what there is to report."""
    if plan.kind in _NOTHING_TO_REPORT or not plan.targets:
        return {}
    if observed is None:
        provider, target = ctx.binding(plan.targets[-1])
        observed = ctx.observe(provider, target, plan.deployment)
    return {"endpoint": observed.endpoint, "revision": observed.active_revision}


def _undo(plan: Plan, ctx: ExecutionContext, op: int, upto: int) -> list[str]:
    problems = []
    for j in range(upto, -1, -1):
        step = plan.steps[j]
        t0, error = time.monotonic(), None
        try:
            step.undo(ctx, plan.deployment)
        except Exception as exc:  # keep undoing the rest; report every failure
            error = f"undo of step {j + 1} ({step.desc}) failed: {exc}"
            problems.append(error)
        ctx.state.step_undone(op, upto - j + 1)
        if error is not None or step.has_undo:
            ctx.event(StepUndone(deployment=plan.deployment, operation=op, index=j + 1, step=step.op,
                                 target=step.target, desc=step.desc, duration=_since(t0), ok=error is None,
                                 error=error))
    for step in plan.steps[:upto + 1]:  # each may have run (e.g. killed before its journal write)
        try:
            step.after_undo(ctx, plan.deployment)
        except Exception as exc:
            problems.append(f"re-reading {plan.deployment} on {step.target} failed: {exc}")
    return problems
