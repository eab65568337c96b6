"""Where an operation's time goes: per-phase durations collected from its event stream.

The phases are what a user tunes separately: ``build`` (the engine build, or the cache lookup),
``export`` (the image into the OCI store), ``push``/``copy`` (registry transfers), ``create``
(infrastructure and revisions), ``ready`` (waiting for a revision to serve), ``gates`` (health,
validation and output comparison), ``traffic`` (moving weights) and ``other`` (journal records,
deletions). ``modelport deploy|swap|migrate --timings`` prints them; the JSON output carries them.
"""

from __future__ import annotations

from typing import Any, Callable

from .events import BuildFinished, Event, StepFinished

PHASES = ("build", "export", "push", "copy", "create", "ready", "gates", "traffic", "other")
STEP_PHASES = {
    "ensure_infra": "create", "create_revision": "create", "update_revision": "create",
    "push_image": "push", "copy_image": "copy", "wait_ready": "ready", "gate": "gates", "compare": "gates",
    "set_traffic": "traffic",
}


class Timings:
    """An event sink that adds up durations per phase, then hands each event on to ``forward``."""

    def __init__(self, forward: Callable[[Event], None]) -> None:
        self.forward = forward
        self.phases: dict[str, float] = {}
        self.steps: list[dict[str, Any]] = []

    @classmethod
    def attach(cls, session) -> "Timings":
        """Collect the events of ``session`` (a :class:`~modelport.Session`) from now on."""
        previous = session.on_event
        timings = cls(previous if previous is not None else (lambda ev: session.report(ev.text())))
        session.on_event = timings
        return timings

    def __call__(self, event: Event) -> None:
        if isinstance(event, BuildFinished):
            self._add("export", event.export)
            self._add("build", max(event.duration - event.export, 0.0))
        elif isinstance(event, StepFinished):
            self._add(STEP_PHASES.get(event.step, "other"), event.duration)
            self.steps.append({"step": event.step, "target": event.target, "desc": event.desc,
                               "duration": event.duration, "ok": event.ok})
        self.forward(event)

    def _add(self, phase: str, seconds: float) -> None:
        self.phases[phase] = round(self.phases.get(phase, 0.0) + seconds, 3)

    def to_dict(self) -> dict[str, Any]:
        """``{"phases": {phase: seconds}, "total": seconds, "steps": [...]}``, phases in pipeline order."""
        phases = {p: self.phases[p] for p in PHASES if p in self.phases}
        return {"phases": phases, "total": round(sum(phases.values()), 3), "steps": list(self.steps)}

    def text(self) -> str:
        """One line per phase, then one per step, seconds aligned."""
        data = self.to_dict()
        lines = ["timings (seconds):"]
        lines += [f"  {phase:<8} {secs:8.3f}" for phase, secs in data["phases"].items()]
        lines.append(f"  {'total':<8} {data['total']:8.3f}")
        lines += [f"    {s['duration']:8.3f}  {s['step']:<16} {s['desc']}" for s in data["steps"]]
        return "\n".join(lines)
