"""Plans are plain data: an ordered list of typed steps computed read-only from desired vs. observed.

Each step (``steps.py``) names the ``target`` it acts on and has a one-line ``desc`` for people;
its kind says what the executor does with it. ``apply`` executes exactly these steps, journaling
each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from .steps import Step, from_dict


@dataclass(frozen=True)
class Plan:
    """What an operation will do, in order."""

    kind: str
    deployment: str
    targets: tuple[str, ...]
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
    context: dict[str, Any] = field(default_factory=dict)
    #: what the planner read of the deployment, for a plan with nothing to do: applying it reports
    #: the endpoint and serving revision from this read instead of reading the cloud again
    observed: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def from_journal(cls, kind: str, deployment: str, targets: Iterable[str], steps: Iterable[dict[str, Any]]) -> Plan:
        """The plan of a journaled operation (steps as :meth:`journal` wrote them)."""
        return cls(kind, deployment, tuple(targets), tuple(from_dict(s) for s in steps))

    def journal(self) -> list[dict[str, Any]]:
        """The steps as the journal keeps them (plain JSON data)."""
        return [s.to_dict() for s in self.steps]

    @property
    def changes(self) -> list[Step]:
        """The steps that change something in a cloud."""
        return [s for s in self.steps if s.writes]

    @property
    def empty(self) -> bool:
        """True when the plan changes nothing."""
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for scripts (``plan --output json``); no secret values."""
        return {"kind": self.kind, "deployment": self.deployment, "targets": list(self.targets),
                "changes": len(self.changes), "steps": [s.public() for s in self.steps],
                "notes": list(self.notes), "abort_would_undo": self.undoable}

    @property
    def undoable(self) -> list[str]:
        """What ``abort`` would undo were the operation interrupted at its end, latest first."""
        return [s.desc for s in reversed(self.steps) if s.writes and s.has_undo]

    def render(self) -> str:
        """A readable diff for people."""
        head = f"{self.kind} {self.deployment} -> {', '.join(self.targets)}"
        if self.empty:
            return f"{head}: no changes (everything is as the spec says)"
        lines = [f"{head}: {len(self.changes)} change(s)"]
        for step in self.steps:
            if step.shown:
                lines.append(f"  {step.symbol} {step.desc}")
                for key, value in (getattr(step, "resources", None) or {}).items():
                    lines.append(f"        {key}: {value}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
