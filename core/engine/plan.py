"""Plans are plain data: an ordered list of steps computed read-only from desired vs. observed.

Each step is a JSON-ready dict with an ``op`` (what the executor does), the ``target`` it acts on
and a one-line ``desc`` for people. ``apply`` executes exactly these steps, journaling each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: ops that change something in a cloud (a plan without them changes nothing)
WRITE_OPS = {"ensure_infra", "push_image", "copy_image", "create_revision", "update_revision",
             "set_traffic", "delete_revision", "destroy"}
SYMBOL = {"ensure_infra": "+", "push_image": "+", "copy_image": "+", "create_revision": "+",
          "update_revision": "~", "set_traffic": "~", "delete_revision": "-", "destroy": "-",
          "gate": "?", "wait_ready": "?", "compare": "?", "record": " "}


@dataclass(frozen=True)
class Plan:
    """What an operation will do, in order."""

    kind: str
    deployment: str
    targets: tuple[str, ...]
    steps: tuple[dict[str, Any], ...]
    notes: tuple[str, ...] = ()
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def changes(self) -> list[dict[str, Any]]:
        return [s for s in self.steps if s["op"] in WRITE_OPS]

    @property
    def empty(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "deployment": self.deployment, "targets": list(self.targets),
                "changes": len(self.changes), "steps": [_public(s) for s in self.steps],
                "notes": list(self.notes)}

    def render(self) -> str:
        """A readable diff for people."""
        head = f"{self.kind} {self.deployment} -> {', '.join(self.targets)}"
        if self.empty:
            return f"{head}: no changes (everything is as the spec says)"
        lines = [f"{head}: {len(self.changes)} change(s)"]
        for step in self.steps:
            if step["op"] != "record":
                lines.append(f"  {SYMBOL.get(step['op'], ' ')} {step['desc']}")
                for key, value in (step.get("resources") or {}).items():
                    lines.append(f"        {key}: {value}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _public(step: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in step.items() if k != "rev"} | (
        {"revision_spec": {k: v for k, v in step["rev"].items() if k not in ("secret_values",)}}
        if "rev" in step else {})


def step(op: str, target: str, desc: str, **fields: Any) -> dict[str, Any]:
    return {"op": op, "target": target, "desc": desc, **fields}
