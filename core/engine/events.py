"""The event stream: what an operation is doing, as typed events for scripts and people.

Every command and API call reports through one stream. A script passes
``Session(on_event=callback)`` and receives these frozen dataclasses; the CLI prints them on
stderr as timestamped text (default) or, with ``--events jsonl``, one JSON object per line
(:meth:`Event.to_dict`). Each event has ``event`` (its type name below), ``ts`` (Unix seconds)
and the fields of its type; ``deployment`` and ``operation`` (the journal's id) are set wherever
they are known. Durations are seconds. The schema (also in the README):

=====================  ======================================================================
``operation.started``  kind, targets, steps (count), resumed_at (1-based step, on resume)
``operation.finished`` kind, status (succeeded, failed, aborted), duration, error,
                       undone (whether the operation's steps were reversed)
``step.started``       index (1-based), total, step (its kind), target, desc
``step.finished``      index, total, step, target, desc, duration, ok, error
``step.undone``        index, step, target, desc, duration, ok, error
``gate.started``       index, step, target, revision
``gate.finished``      index, step, target, revision, duration, passed, error, figures (the
                       error's check/expected/actual)
``gate.progress``      target, revision, requests, errors, p50_ms, p99_ms, left (an analysis
                       gate's live figures during its bake, seconds left)
``retry``              what, attempt (the one about to start), attempts, wait, error
``lock.waiting``       holder, waited, wait_lock (``--wait-lock``'s seconds)
``build.started``      model, version
``build.finished``     digest, image_id, duration, export, cached
``transfer.progress``  action (push, copy), repository, done, total (bytes)
``transfer.finished``  action, repository, blobs_sent, bytes_sent, blobs_skipped, bytes_skipped,
                       duration
``message``            message (any other progress line)
=====================  ======================================================================

New fields may be added to a type; a field is never removed or renamed within a major version.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar

#: a receiver of events (``Session(on_event=...)``)
EventSink = Callable[["Event"], None]


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event: its ``type`` name, when it happened, and where."""

    type: ClassVar[str] = "event"
    ts: float = field(default_factory=time.time)
    deployment: str | None = None
    operation: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: ``{"event": type, "ts": ..., <fields>}``."""
        return {"event": self.type, **{f.name: getattr(self, f.name) for f in fields(self)}}

    def text(self) -> str:
        """One line for people."""
        return self.type


@dataclass(frozen=True, kw_only=True)
class OperationStarted(Event):
    """An operation took the lock and journaled its plan (or was resumed / is being aborted)."""

    type: ClassVar[str] = "operation.started"
    kind: str
    targets: list[str]
    steps: int
    resumed_at: int | None = None

    def text(self) -> str:
        how = f"resumed at step {self.resumed_at}" if self.resumed_at else "started"
        return f"{self.kind} of {self.deployment} {how} (operation #{self.operation}, {self.steps} step(s))"


@dataclass(frozen=True, kw_only=True)
class OperationFinished(Event):
    """An operation ended; ``undone`` says whether its steps were reversed."""

    type: ClassVar[str] = "operation.finished"
    kind: str
    status: str
    duration: float
    error: str | None = None
    undone: bool = False

    def text(self) -> str:
        return f"{self.kind} of {self.deployment} {self.status} in {self.duration:.1f}s" + \
            (f": {self.error}" if self.error else "")


@dataclass(frozen=True, kw_only=True)
class StepStarted(Event):
    """A plan step starts."""

    type: ClassVar[str] = "step.started"
    index: int
    total: int
    step: str
    target: str
    desc: str

    def text(self) -> str:
        return f"[{self.index}/{self.total}] {self.desc}"


@dataclass(frozen=True, kw_only=True)
class StepFinished(Event):
    """A plan step ended (``ok`` false: it failed with ``error``)."""

    type: ClassVar[str] = "step.finished"
    index: int
    total: int
    step: str
    target: str
    desc: str
    duration: float
    ok: bool = True
    error: str | None = None

    def text(self) -> str:
        return f"[{self.index}/{self.total}] {'done' if self.ok else 'FAILED'} in {self.duration:.1f}s" + \
            (f": {self.error}" if self.error else "")


@dataclass(frozen=True, kw_only=True)
class StepUndone(Event):
    """A finished (or started) step was reversed while rolling back."""

    type: ClassVar[str] = "step.undone"
    index: int
    step: str
    target: str
    desc: str
    duration: float
    ok: bool = True
    error: str | None = None

    def text(self) -> str:
        return f"undo [{self.index}] {self.desc}: " + ("done" if self.ok else f"FAILED: {self.error}") + \
            f" ({self.duration:.1f}s)"


@dataclass(frozen=True, kw_only=True)
class GateStarted(Event):
    """A gate step (readiness, smoke request, comparison, analysis) starts judging a revision."""

    type: ClassVar[str] = "gate.started"
    index: int
    step: str
    target: str
    revision: str | None = None

    def text(self) -> str:
        return f"{_gate_name(self.step)} on {self.target}" + (f" ({self.revision})" if self.revision else "")


def _gate_name(step: str) -> str:
    """How a line names a gate step: the health gate is "gate", others "validate gate"."""
    return "gate" if step == "gate" else f"{step} gate"


@dataclass(frozen=True, kw_only=True)
class GateFinished(Event):
    """A gate's verdict; ``figures`` holds what it measured when it failed (check, expected, actual)."""

    type: ClassVar[str] = "gate.finished"
    index: int
    step: str
    target: str
    revision: str | None
    duration: float
    passed: bool
    error: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        return f"{_gate_name(self.step)} on {self.target} {'passed' if self.passed else 'FAILED'} in {self.duration:.1f}s"


@dataclass(frozen=True, kw_only=True)
class GateProgress(Event):
    """An analysis gate's live figures during its bake (about a dozen per gate): the new
    revision's requests and failed ones in the window, p50/p99 latency (ms), seconds left."""

    type: ClassVar[str] = "gate.progress"
    target: str
    revision: str | None
    requests: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    left: float

    def text(self) -> str:
        lat = "-" if self.p99_ms is None else f"p50 {self.p50_ms:g} ms, p99 {self.p99_ms:g} ms"
        return (f"gate {self.revision} on {self.target}: {self.requests} requests, {self.errors} errors, {lat}, "
                f"{self.left:.0f}s left")


@dataclass(frozen=True, kw_only=True)
class RetryScheduled(Event):
    """A safe cloud call failed retryably and will be tried again after ``wait`` seconds."""

    type: ClassVar[str] = "retry"
    what: str
    attempt: int
    attempts: int
    wait: float
    error: str

    def text(self) -> str:
        return f"retrying {self.what} in {self.wait:.1f}s (attempt {self.attempt} of {self.attempts}): {self.error}"


@dataclass(frozen=True, kw_only=True)
class LockWaiting(Event):
    """``--wait-lock``: a live process holds the deployment's lock; this one waits for it."""

    type: ClassVar[str] = "lock.waiting"
    holder: str
    waited: float
    wait_lock: float

    def text(self) -> str:
        return f"waiting for the lock on {self.deployment} (held by {self.holder}; " \
               f"{self.waited:.0f}s of {self.wait_lock:.0f}s)"


@dataclass(frozen=True, kw_only=True)
class BuildStarted(Event):
    """The model image build starts (layers are cached: a rebuild of the same inputs is quick)."""

    type: ClassVar[str] = "build.started"
    model: str
    version: str

    def text(self) -> str:
        return f"building {self.model} {self.version}"


@dataclass(frozen=True, kw_only=True)
class BuildFinished(Event):
    """The image is built; its manifest ``digest`` is what every target runs."""

    type: ClassVar[str] = "build.finished"
    digest: str
    image_id: str
    duration: float
    export: float = 0.0    # of ``duration``: exporting the image to the OCI store
    cached: bool = False   # the inputs were unchanged: the recorded image was reused, nothing built

    def text(self) -> str:
        if self.cached:
            return f"reused {self.digest} (inputs unchanged) in {self.duration:.1f}s"
        return f"built {self.digest} in {self.duration:.1f}s"


@dataclass(frozen=True, kw_only=True)
class TransferProgress(Event):
    """Bytes of an image push or copy sent so far (``total`` None while unknown)."""

    type: ClassVar[str] = "transfer.progress"
    action: str
    repository: str
    done: int
    total: int | None = None

    def text(self) -> str:
        return f"{self.action} {self.repository}: {self.done}" + (f"/{self.total}" if self.total else "") + " bytes"


@dataclass(frozen=True, kw_only=True)
class TransferFinished(Event):
    """An image push or copy ended (only the blobs the registry lacked were sent)."""

    type: ClassVar[str] = "transfer.finished"
    action: str
    repository: str
    blobs_sent: int
    bytes_sent: int
    blobs_skipped: int
    bytes_skipped: int
    duration: float

    def text(self) -> str:
        return (f"{self.action} {self.repository}: sent {self.blobs_sent} blob(s) ({self.bytes_sent} bytes), "
                f"skipped {self.blobs_skipped} already there, {self.duration:.1f}s")


@dataclass(frozen=True, kw_only=True)
class Message(Event):
    """Any other progress line (what ``Session.report`` was given)."""

    type: ClassVar[str] = "message"
    message: str

    def text(self) -> str:
        return self.message


#: every event type by its name (the schema)
TYPES: dict[str, type[Event]] = {cls.type: cls for cls in (
    OperationStarted, OperationFinished, StepStarted, StepFinished, StepUndone, GateStarted, GateFinished,
    GateProgress, RetryScheduled, LockWaiting, BuildStarted, BuildFinished, TransferProgress, TransferFinished, Message)}


def schema() -> dict[str, list[str]]:
    """Each event type's JSON fields, in order (documented in the README)."""
    out = {}
    for name, cls in TYPES.items():
        out[name] = ["event", *(f.name for f in fields(cls))]
    return out

