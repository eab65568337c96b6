"""Plans for every operation, read-only: what ``swap``, ``rollback``, ``migrate``, ``promote``,
``destroy``, ``resume`` and ``abort`` would change (``modelport plan --for KIND``). Each returns
the :class:`~modelport.engine.plan.Plan` the operation would execute (for resume, the steps left;
for abort, the steps it would undo, latest first); ``Plan.to_dict`` also lists what ``abort``
would undo if the operation were interrupted. Nothing is built (but ``swap``, whose digest
needs the build), journaled or written to any cloud.
"""

from __future__ import annotations

from pathlib import Path

from .engine import planner
from .engine.plan import Plan
from .engine.recovery import explain
from .engine.session import Session
from .engine.steps import from_dict
from .errors import NotFound


def _api():
    """:mod:`modelport.api` (imported when called: it imports this module to re-export it)."""
    from . import api

    return api


def plan_swap(path: str | Path | None = None, target: str = "", *, strategy: str | None = None,
              steps: list[int] | None = None, session: Session | None = None) -> Plan:
    """What ``swap`` would do on ``target`` (builds the image, cached, to know its digest)."""
    s = _api()._session(session)
    loaded = _api().validate(path, s)
    _api()._refuse_early(s, loaded, target, strategy)
    image = _api()._built_image(s, loaded)
    return planner.deploy(s, loaded, target, image, kind="swap", strategy=strategy, steps=steps)


def plan_rollback(name: str, target: str, *, revision: str | None = None, spec: str | Path | None = None,
                  session: Session | None = None) -> Plan:
    """What ``rollback`` would do."""
    s = _api()._session(session)
    loaded = _api()._spec_for(s, name, target, spec)
    return planner.rollback(s, loaded, name, target, revision)


def plan_migrate(name: str, source: str, dest: str, *, retire_source: bool = False,
                 spec: str | Path | None = None, session: Session | None = None) -> Plan:
    """What ``migrate`` would do."""
    s = _api()._session(session)
    loaded = _api()._spec_for(s, name, source, spec)
    return planner.migrate(s, loaded, name, source, dest, retire_source=retire_source)[0]


def plan_promote(name: str, source: str, dest: str, *, strategy: str | None = None, steps: list[int] | None = None,
                 spec: str | Path | None = None, session: Session | None = None) -> Plan:
    """What ``promote`` would do (the digest is checked as promote checks it)."""
    s = _api()._session(session)
    loaded, image, origin = _api()._promoted(s, name, source, dest, strategy, spec)
    return planner.deploy(s, loaded, dest, image, kind="promote", strategy=strategy, steps=steps, source=origin)


def plan_destroy(name: str, target: str, *, spec: str | Path | None = None, session: Session | None = None) -> Plan:
    """What ``destroy`` would do."""
    s = _api()._session(session)
    loaded = _api()._spec_for(s, name, target, spec)
    return planner.destroy(s, loaded, name, target)


def plan_resume(name: str, session: Session | None = None) -> Plan:
    """The steps ``resume`` would run: those the interrupted operation had left."""
    op = _interrupted(_api()._session(session), name)
    facts = explain(op.plan, op.done)
    steps = tuple(from_dict(d) for d in op.plan[op.done:])
    return Plan(op.kind, name, tuple(op.targets), steps,
                notes=(f"resumes operation #{op.id} after step {op.done} of {len(op.plan)}",
                       *(f"done: {s['desc']}" for s in facts["steps_done"])))


def plan_abort(name: str, session: Session | None = None) -> Plan:
    """The steps ``abort`` would undo, latest first (no steps, and a note, when abort is refused)."""
    op = _interrupted(_api()._session(session), name)
    facts = explain(op.plan, op.done)
    if not facts["abort_possible"]:
        return Plan("abort", name, tuple(op.targets), (),
                    notes=(f"abort of operation #{op.id} is refused: a started step cannot be undone; "
                           f"run `modelport resume {name}`",))
    steps = tuple(from_dict(op.plan[s["index"] - 1]) for s in facts["abort_would_undo"])
    return Plan("abort", name, tuple(op.targets), steps,
                notes=(f"undoes operation #{op.id} ({op.kind}), each step above reversed, latest first",))


def _interrupted(s: Session, name: str):
    op = s.state.unfinished(name)
    if op is None:
        raise NotFound(f"{name!r} has no interrupted operation", deployment=name)
    return op
