"""What an interrupted operation did, has left, and what ``abort`` would undo: said by the error
that blocks the deployment (:class:`~modelport.errors.UnfinishedOperation`), by ``status`` and by
``plan resume`` / ``plan abort``."""

from __future__ import annotations

from typing import Any

from ..errors import UnfinishedOperation
from .steps import Step, from_dict


def _brief(index: int, step: Step) -> dict[str, Any]:
    return {"index": index, "step": step.op, "target": step.target, "desc": step.desc}


def explain(plan: list[dict[str, Any]], done: int) -> dict[str, Any]:
    """For a journaled plan (step dicts) of which ``done`` steps finished: ``steps_done``,
    ``steps_left`` (the first of them may have started: the process died during it),
    ``abort_would_undo`` (latest first, as abort runs them) and ``abort_possible``."""
    steps = [from_dict(s) for s in plan]
    started = steps[:min(done, len(steps) - 1) + 1] if steps else []
    irreversible = [_brief(i + 1, s) for i, s in enumerate(started) if s.irreversible]
    return {"steps_done": [_brief(i + 1, s) for i, s in enumerate(steps[:done])],
            "steps_left": [_brief(i + 1, s) for i, s in enumerate(steps) if i >= done],
            "abort_would_undo": [_brief(i + 1, s) for i, s in reversed(list(enumerate(started))) if s.has_undo],
            "abort_possible": not irreversible}


def interrupted(op) -> UnfinishedOperation:
    """The error saying operation ``op`` (a journal entry whose holder died) waits for resume/abort,
    listing the steps done, the steps left and what ``abort`` would undo."""
    facts = explain(op.plan, op.done)
    lines = [f"operation #{op.id} ({op.kind} of {op.name!r}) was interrupted after step {op.done} of {len(op.plan)}"]
    lines.append("  done: " + ("; ".join(s["desc"] for s in facts["steps_done"]) or "nothing"))
    lines.append("  left: " + ("; ".join(s["desc"] for s in facts["steps_left"]) or "nothing"))
    if facts["abort_possible"]:
        lines.append("  abort would undo: " + ("; ".join(s["desc"] for s in facts["abort_would_undo"]) or "nothing"))
        hint = f"run `modelport resume {op.name}` to finish it or `modelport abort {op.name}` to roll it back"
    else:
        lines.append("  abort is not possible: a started step cannot be undone")
        hint = f"run `modelport resume {op.name}` to finish it"
    return UnfinishedOperation("\n".join(lines), hint=hint, deployment=op.name, operation=op.id, kind=op.kind,
                               targets=list(op.targets), holder=op.holder, **facts)
