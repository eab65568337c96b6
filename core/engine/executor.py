"""Runs a Plan exactly, one journaled step at a time, and undoes it when a step fails.

The executor never decides what to do: the plan did. It holds the deployment's lock for the
whole operation, writes each finished step to the journal (so a killed process can be resumed or
aborted by the next command), and on failure undoes the finished steps in reverse order, which
returns traffic to the previous revisions and removes what the operation created. A cloud call
that fails with a retryable error is tried again first when its primitive is safe to repeat
(``retry.py``), in steps and in undos alike.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import HealthGateFailed, LeaseLost, ModelportError, UnfinishedOperation
from ..provider import Provider, Target
from ..state import ABORTED, FAILED, SUCCEEDED, StateStore
from . import gate as gates
from . import retry as retries
from .plan import Plan
from .revision import from_data

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
        return {"operation": self.operation, "status": self.status, "endpoint": self.endpoint,
                "revision": self.revision, "plan": self.plan.to_dict(), **self.outputs}


@dataclass
class Runtime:
    """What steps need besides their own data; rebuilt from the journal context on resume."""

    state: StateStore
    bindings: dict[str, Binding]
    smoke: gates.Smoke
    gate_timeout: float
    secret_values: Callable[[Binding, dict[str, str]], dict[str, str]]
    images: Any  # an object with push(step, binding) and copy(step, binding, bindings)
    report: Callable[[str], None] = lambda _m: None
    spec_file: str | None = None
    hook: Callable[[int, dict], None] | None = None  # test seam: called before each step
    retry: retries.RetryPolicy = field(default_factory=retries.RetryPolicy.from_env)

    def safe(self, primitive: str, what: str, fn: Callable[[], Any]) -> Any:
        """Call ``fn`` (one ``primitive`` call), retried per ``retry`` when that is safe."""
        return retries.call(fn, primitive, self.retry, self.report, what)


def holder_name(kind: str) -> str:
    return f"modelport {kind} (pid {os.getpid()} on {socket.gethostname()})"


def check_unfinished(state: StateStore, name: str) -> None:
    """Refuse to start while an interrupted operation on ``name`` waits for resume/abort."""
    op = state.unfinished(name)
    if op is not None:
        raise interrupted(op)


def interrupted(op) -> UnfinishedOperation:
    """The error saying operation ``op`` (a journal entry whose holder died) waits for resume/abort."""
    return UnfinishedOperation(
        f"operation #{op.id} ({op.kind} of {op.name!r}) was interrupted after step {op.done} of {len(op.plan)}",
        hint=f"run `modelport resume {op.name}` to finish it or `modelport abort {op.name}` to roll it back")


def apply(plan: Plan, rt: Runtime, context: dict[str, Any], break_lock: bool = False) -> Result:
    """Execute ``plan`` under the deployment's lock; undo on failure and re-raise."""
    if plan.empty:
        return Result(None, plan, "unchanged", **_final(plan, rt))
    name = plan.deployment
    rt.state.acquire_lock(name, holder_name(plan.kind), break_stale=break_lock)
    try:
        check_unfinished(rt.state, name)
        op = rt.state.begin_operation(name, plan.kind, list(plan.targets), holder_name(plan.kind),
                                      list(plan.steps), context)
        rt.state.set_lock_operation(name, op)
        rt.state.add_event(name, "operation", f"{plan.kind} started", operation=op,
                           data={"steps": len(plan.steps)})
        return _run(plan, rt, op, start=0)
    finally:
        rt.state.release_lock(name)


def resume(plan: Plan, rt: Runtime, op: int, done: int) -> Result:
    """Continue an interrupted operation from its first unfinished step (steps are idempotent)."""
    rt.state.adopt_operation(op)
    rt.state.add_event(plan.deployment, "operation", f"{plan.kind} resumed at step {done + 1}", operation=op)
    return _run(plan, rt, op, start=done)


#: steps whose effect no undo can bring back (a retired source, a destroyed deployment)
IRREVERSIBLE = ("destroy",)


def abort(plan: Plan, rt: Runtime, op: int, done: int) -> None:
    """Roll back an interrupted operation: undo every step it may have started. Refused when one
    of those cannot be undone (rolling back the rest would leave nothing serving): resume then."""
    started = plan.steps[:min(done, len(plan.steps) - 1) + 1]
    gone = next((s for s in started if s["op"] in IRREVERSIBLE), None)
    if gone is not None:
        raise ModelportError(f"operation #{op} ({plan.kind} of {plan.deployment!r}) cannot be rolled back: "
                             f"step {plan.steps.index(gone) + 1} ({gone['desc']}) may have run and cannot be undone",
                             hint=f"run `modelport resume {plan.deployment}` to finish it")
    rt.state.adopt_operation(op)
    problems = _undo(plan, rt, op, upto=min(done, len(plan.steps) - 1))
    rt.state.finish_operation(op, ABORTED, "; ".join(problems) or None)
    rt.state.add_event(plan.deployment, "operation", f"{plan.kind} aborted and rolled back", operation=op)


def _run(plan: Plan, rt: Runtime, op: int, start: int) -> Result:
    steps = plan.steps
    i = start
    try:
        for i in range(start, len(steps)):
            if rt.hook:
                rt.hook(i, steps[i])
            rt.state.check_lease(plan.deployment)  # broken meanwhile: stop before the next cloud call
            rt.report(f"[{i + 1}/{len(steps)}] {steps[i]['desc']}")
            execute(steps[i], rt, plan)
            rt.state.step_done(op, i + 1)
            if steps[i]["op"] != "record":
                rt.state.add_event(plan.deployment, steps[i]["op"], steps[i]["desc"], target=steps[i]["target"],
                                   operation=op, data=_event_data(steps[i]))
    except LeaseLost:
        raise  # another process owns the deployment now: undoing would fight it
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            rt.report("interrupted: rolling back")
        problems = _undo(plan, rt, op, upto=i)
        message = str(exc) + (f"; rollback problems: {'; '.join(problems)}" if problems else "")
        rt.state.finish_operation(op, FAILED, message)
        rt.state.add_event(plan.deployment, "operation", f"{plan.kind} failed and was rolled back: {exc}",
                           operation=op)
        if isinstance(exc, ModelportError):
            exc.message = (f"{exc.message} — rolled back: previous traffic restored, new revision removed"
                           if not problems else
                           f"{exc.message} — ROLLBACK INCOMPLETE ({'; '.join(problems)}); "
                           f"check `modelport status {plan.deployment}` and `modelport gc`")
        raise
    rt.state.finish_operation(op, SUCCEEDED)
    rt.state.add_event(plan.deployment, "operation", f"{plan.kind} succeeded", operation=op)
    return Result(op, plan, SUCCEEDED, **_final(plan, rt))


def _final(plan: Plan, rt: Runtime) -> dict[str, Any]:
    if plan.kind == "destroy" or not plan.targets:
        return {}
    last = plan.targets[-1]
    provider, target = rt.bindings[last]
    observed = rt.safe("observe", f"read {plan.deployment} on {target.name}",
                       lambda: provider.observe(target, plan.deployment))
    active = max(observed.traffic.items(), key=lambda kv: kv[1])[0] if observed.traffic else None
    return {"endpoint": observed.endpoint, "revision": active}


def _event_data(s: dict[str, Any]) -> dict[str, Any]:
    keep = ("revision", "weights", "previous", "digest", "repository", "model_version")
    return {k: s[k] for k in keep if k in s}


def _undo(plan: Plan, rt: Runtime, op: int, upto: int) -> list[str]:
    problems = []
    for j in range(upto, -1, -1):
        s = plan.steps[j]
        try:
            undo(s, rt, plan)
        except Exception as exc:  # keep undoing the rest; report every failure
            problems.append(f"undo of step {j + 1} ({s['desc']}) failed: {exc}")
        rt.state.step_undone(op, upto - j + 1)
    for s in plan.steps[:upto + 1]:
        if s["op"] == "record":  # it may have run (e.g. killed before its journal write)
            try:
                _rerecord(s, rt, plan)
            except Exception as exc:
                problems.append(f"re-reading {plan.deployment} on {s['target']} failed: {exc}")
    return problems


def _rerecord(s: dict[str, Any], rt: Runtime, plan: Plan) -> None:
    """After an undo, record what the cloud serves now (the recorded deployment must not name the
    revision that was just rolled back); forget it where the cloud has nothing left."""
    provider, target = rt.bindings[s["target"]]
    name = plan.deployment
    observed = rt.safe("observe", f"read {name} on {target.name}", lambda: provider.observe(target, name))
    active = max(observed.traffic.items(), key=lambda kv: kv[1])[0] if observed.traffic else None
    if not observed.revisions:
        rt.state.forget_deployment(name, target.name)
    elif active is not None and rt.state.deployments(name, target.name):
        rt.state.record_deployment(name, target.name, provider.name, spec_file=None, revision=active,
                                   digest=observed.revision(active).digest, endpoint=observed.endpoint,
                                   traffic=dict(observed.traffic))


# -- the steps ------------------------------------------------------------------------------------

def execute(s: dict[str, Any], rt: Runtime, plan: Plan) -> None:
    """Do one step. Every step is idempotent, so a resumed operation may repeat the last one."""
    op = s["op"]
    binding = rt.bindings.get(s["target"])
    provider, target = binding if binding else (None, None)
    name = plan.deployment
    where = f"on {s['target']}"
    if op == "ensure_infra":
        rt.safe("ensure_infrastructure", f"ensure infrastructure {where}",
                lambda: provider.ensure_infrastructure(target, name))
    elif op == "push_image":
        rt.images.push(s, binding)
    elif op == "copy_image":
        rt.images.copy(s, binding, rt.bindings)
    elif op == "create_revision":
        rev = from_data(s["rev"])
        rev = _with_secrets(rev, rt, binding)
        rt.safe("create_revision", f"create revision {rev.revision} {where}",
                lambda: provider.create_revision(target, rev))
        rt.state.record_revision(name, target.name, rev.revision, rev.image.digest, _image_json(rev),
                                 rev.config, rev.model_version, spec=s["rev"])
    elif op == "update_revision":
        _update(rt, binding, name, s["current"], s["rev"])
    elif op == "wait_ready":
        gates.wait_until(_health(rt, provider, target, name, s["revision"]), rt.gate_timeout,
                         f"revision {s['revision']} on {target.name}")
    elif op == "gate":
        _gate(s, rt, provider, target, name)
    elif op == "set_traffic":
        rt.safe("set_traffic", f"set traffic {where}", lambda: provider.set_traffic(target, name, s["weights"]))
    elif op == "delete_revision":
        rt.safe("delete_revision", f"delete revision {s['revision']} {where}",
                lambda: provider.delete_revision(target, name, s["revision"]))
        rt.state.mark_revision_deleted(name, target.name, s["revision"])
    elif op == "destroy":
        rt.safe("destroy", f"destroy {name} {where}", lambda: provider.destroy(target, name))
    elif op == "forget":
        rt.state.forget_deployment(name, target.name)
    elif op == "compare":
        _compare(s, rt, name)
    elif op == "record":
        observed = rt.safe("observe", f"read {name} {where}", lambda: provider.observe(target, name))
        rt.state.record_deployment(name, target.name, provider.name, spec_file=rt.spec_file,
                                   revision=s["revision"], digest=s["digest"], endpoint=observed.endpoint,
                                   traffic=dict(observed.traffic))
    else:
        raise ModelportError(f"unknown step {op!r} in the plan")


def undo(s: dict[str, Any], rt: Runtime, plan: Plan) -> None:
    """Reverse one step (idempotent). Gates, waits, copies and records need no undo."""
    op = s["op"]
    binding = rt.bindings.get(s["target"])
    if op == "create_revision":
        provider, target = binding
        rt.safe("delete_revision", f"delete revision {s['revision']} on {target.name}",
                lambda: provider.delete_revision(target, plan.deployment, s["revision"]))
        rt.state.mark_revision_deleted(plan.deployment, target.name, s["revision"])
    elif op == "update_revision":
        _update(rt, binding, plan.deployment, s["revision"], s["previous_rev"])
        # the container restarts: the rollback is done only once the previous revision serves again
        provider, target = binding
        previous = from_data(s["previous_rev"]).revision
        gates.wait_until(_health(rt, provider, target, plan.deployment, previous), rt.gate_timeout,
                         f"restored revision {previous} on {target.name}")
    elif op == "set_traffic" and s.get("previous"):
        provider, target = binding
        rt.safe("set_traffic", f"restore traffic on {target.name}",
                lambda: provider.set_traffic(target, plan.deployment, s["previous"]))
    elif op == "ensure_infra" and s.get("fresh"):
        provider, target = binding
        rt.safe("destroy", f"remove {plan.deployment} from {target.name}",
                lambda: provider.destroy(target, plan.deployment))


def _update(rt: Runtime, binding: Binding, name: str, current: str, data: dict[str, Any]) -> None:
    """Replace revision ``current`` in place by the revision in ``data``; the state follows."""
    provider, target = binding
    rev = _with_secrets(from_data(data), rt, binding)
    rt.safe("update_revision", f"update revision {current} on {target.name}",
            lambda: provider.update_revision(target, current, rev))
    rt.state.record_revision(name, target.name, rev.revision, rev.image.digest, _image_json(rev),
                             rev.config, rev.model_version, spec=data)
    if current != rev.revision:
        rt.state.mark_revision_deleted(name, target.name, current)


def _with_secrets(rev, rt: Runtime, binding: Binding):
    from dataclasses import replace

    values = rt.secret_values(binding, dict(rev.secrets))
    return replace(rev, secret_values=values) if values else rev


def _image_json(rev) -> str:
    import json
    return json.dumps({"digest": rev.image.digest, "image_id": rev.image.image_id, "ref": rev.image.ref})


def _gate(s: dict[str, Any], rt: Runtime, provider: Provider, target: Target, name: str) -> None:
    revision = s["revision"]
    health = gates.wait_until(_health(rt, provider, target, name, revision), rt.gate_timeout,
                              f"revision {revision} on {target.name}")
    checks = s["via"].split("+")
    if "revision" in checks:
        if not health.endpoint:
            raise HealthGateFailed(f"revision {revision} on {target.name} reports no endpoint to test")
        gates.smoke(health.endpoint, rt.smoke, health.headers, where=f"revision {revision} on {target.name}")
    if "endpoint" in checks:
        endpoint = _wait_endpoint(rt, provider, target, name)
        gates.smoke(endpoint, rt.smoke, provider.endpoint_headers(target, name),
                    where=f"{target.name} endpoint {endpoint}")


def _health(rt: Runtime, provider: Provider, target: Target, name: str, revision: str):
    """A health probe for ``gates.wait_until`` whose cloud call is retried like the others."""
    return lambda: rt.safe("health", f"read the health of {revision} on {target.name}",
                           lambda: provider.health(target, name, revision))


def _wait_endpoint(rt: Runtime, provider: Provider, target: Target, name: str) -> str:
    deadline = time.monotonic() + rt.gate_timeout
    while True:
        endpoint = rt.safe("observe", f"read {name} on {target.name}",
                           lambda: provider.observe(target, name)).endpoint
        if endpoint:
            return endpoint
        if time.monotonic() > deadline:
            raise HealthGateFailed(f"{name} on {target.name} reports no endpoint")
        time.sleep(0.5)


def _compare(s: dict[str, Any], rt: Runtime, name: str) -> None:
    """The same sample input gives the same outputs on both targets."""
    if rt.smoke.body is None:
        return
    answers = []
    for t in (s["source"], s["target"]):
        provider, target = rt.bindings[t]
        endpoint = _wait_endpoint(rt, provider, target, name)
        reply = gates.infer(endpoint, rt.smoke.model, rt.smoke.body, provider.endpoint_headers(target, name))
        answers.append([(o.get("name"), o.get("shape"), o.get("data")) for o in reply.get("outputs", [])])
    if not _same(answers[0], answers[1]):
        raise HealthGateFailed(f"outputs differ between {s['source']} and {s['target']} for the sample input")


def _same(a: Any, b: Any, tol: float = 1e-6) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        try:
            return abs(float(a) - float(b)) <= tol * max(1.0, abs(float(a)))
        except (TypeError, ValueError):
            return False
    return a == b
