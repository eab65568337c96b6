"""The Python API: everything the CLI does, as documented functions returning typed results.

Release scripts call these directly::

    import modelport
    from modelport.errors import HealthGateFailed

    try:
        result = modelport.swap("models/iris", target="prod", strategy="canary", steps=[10, 50, 100])
    except HealthGateFailed as exc:   # traffic is already back on the previous revision
        raise SystemExit(f"canary failed: {exc}")
    print(result.endpoint, result.revision)

Every function takes an optional :class:`Session` (state store, providers, progress sink).
Progress is a stream of typed events (:mod:`modelport.engine.events`), and every error carries
its fields and its exit code::

    from modelport.errors import EXIT_LOCKED, ModelportError

    session = modelport.Session(on_event=lambda e: print(e.to_dict()), wait_lock=60)
    try:
        staged = modelport.deploy("models/iris", "staging", session=session)
        modelport.promote(staged.outputs["name"], "staging", "prod", session=session)  # the same digest
    except ModelportError as exc:
        print(exc.to_dict())          # deployment, target, revision, operation, undone, ...
        raise SystemExit(exc.exit_code)

Plans for every operation are in :mod:`modelport.api_plan` (re-exported here as ``plan_*``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .engine import executor, planner
from .engine.executor import ExecutionContext, Result
from .engine.events import BuildFinished, BuildStarted
from .engine.gate import Smoke
from .engine.gatespec import gate_settings
from .engine.images import ImageMover, find_image
from .engine.plan import Plan
from .engine.session import Session, check_secret_refs, resolve_secret_values
from .engine.strategies import check_canary
from .errors import NotFound, UsageError
from .image.image import BuildResult, build_image
from .provider import ImageRef
from .spec import LoadedSpec, Spec, load_spec


def _session(session: Session | None) -> Session:
    return session or Session()


def validate(path: str | Path | None = None, session: Session | None = None,
             sizes: bool = True) -> LoadedSpec:
    """Load and validate a spec and every target's settings and size (no cloud call; with
    ``sizes=False`` not the sizes and provider rules: for what is deployed already)."""
    s = _session(session)
    loaded = load_spec(path)
    s.validate_targets(loaded, sizes)
    return loaded


def build(path: str | Path | None = None, session: Session | None = None) -> BuildResult:
    """Build the model image (layers cached) and record its manifest digest in the local store."""
    s = _session(session)
    loaded = validate(path, s)
    return _build(s, loaded)


def _build(s: Session, loaded: LoadedSpec) -> BuildResult:
    """Build with ``build.started``/``build.finished`` events around it."""
    s.emit(BuildStarted(deployment=loaded.spec.deployment, model=loaded.spec.model.name,
                        version=loaded.spec.model.version))
    t0 = time.monotonic()
    result = build_image(s.docker(), loaded, s.report)
    s.emit(BuildFinished(deployment=loaded.spec.deployment, digest=result.digest, image_id=result.image_id,
                         duration=round(time.monotonic() - t0, 3), export=result.export_seconds,
                         cached=result.cached))
    return result


def schema(session: Session | None = None) -> dict[str, Any]:
    """The JSON Schema of ``modelport.toml``, with each installed provider's target settings and
    the secret reference schemes it resolves."""
    s = _session(session)
    out = Spec.model_json_schema()
    installed = sorted(s.providers.providers.items())
    variants = []
    for name, provider in installed:
        sub = provider.settings_model.model_json_schema()
        sub.setdefault("properties", {})["provider"] = {"const": name}
        sub["required"] = ["provider", *sub.get("required", [])]
        sub["additionalProperties"] = False
        sub["title"] = f"{name} target"
        variants.append(sub)
    if variants:
        out.setdefault("properties", {})["targets"] = {
            "type": "object", "description": "Named deployment targets.",
            "additionalProperties": {"oneOf": variants}}
    native = [f"'{scheme}:...' ({name} targets)" for name, p in installed for scheme in p.capabilities.secret_schemes]
    if native:
        secrets = out["properties"]["secrets"]
        secrets["description"] += f" Schemes the providers resolve: {', '.join(native)}."
    return out


def providers(session: Session | None = None) -> dict[str, Any]:
    """Installed providers with their capabilities, and plugins that failed to load."""
    s = _session(session)
    return {"providers": [{"name": n, "plugin": s.providers.origin[n], "description": p.description,
                           "api_version": p.api_version, "capabilities": p.capabilities.to_dict()}
                          for n, p in sorted(s.providers.providers.items())],
            "problems": [{"plugin": p.plugin, "distribution": s.providers.distributions.get(p.plugin),
                          "message": p.message} for p in s.providers.problems]}


# -- plan / deploy / swap ----------------------------------------------------------------------------

def _smoke(loaded: LoadedSpec) -> Smoke:
    spec = loaded.spec
    body = None
    if spec.serving.sample_input:
        body = json.loads(loaded.resolve(spec.serving.sample_input).read_text())
    shape = tuple(spec.serving.expected_output_shape) if spec.serving.expected_output_shape else None
    return Smoke(spec.model.name, body, shape)


def _execution(s: Session, loaded: LoadedSpec, targets: tuple[str, ...] | list[str],
               gate_timeout: float | None = None) -> ExecutionContext:
    """What the executor needs to run a plan on ``targets`` of ``loaded``."""
    root = loaded.root

    def secret_values(binding, secrets):
        provider, _target = binding
        return resolve_secret_values(secrets, set(provider.capabilities.secret_schemes), root)

    return ExecutionContext(state=s.state, bindings={t: s.target(loaded, t) for t in targets}, smoke=_smoke(loaded),
                            gate_timeout=gate_timeout or loaded.spec.rollout.gate_timeout,
                            secret_values=secret_values, images=ImageMover(s.report, emit=s.emit),
                            report=s.report, spec_file=str(loaded.file), before_step=s.before_step, emit=s.emit,
                            wait_lock=s.wait_lock, **gate_settings(loaded))


def _apply(s: Session, loaded: LoadedSpec, the_plan: Plan, gate_timeout: float | None = None,
           break_lock: bool = False, **context: Any) -> Result:
    """Execute ``the_plan``; ``context`` (e.g. ``build_seconds``) is journaled with it."""
    ctx = _execution(s, loaded, the_plan.targets, gate_timeout)
    return executor.apply(the_plan, ctx, {"spec_file": str(loaded.file), "gate_timeout": ctx.gate_timeout,
                                          **context}, break_lock=break_lock)


def _built_image(s: Session, loaded: LoadedSpec) -> ImageRef:
    result = _build(s, loaded)
    return ImageRef(result.digest, result.image_id)


def plan(path: str | Path | None = None, target: str = "", *, strategy: str | None = None,
         steps: list[int] | None = None, session: Session | None = None) -> Plan:
    """What ``deploy`` would do on ``target``. Builds the image locally (cached) to know its digest;
    reads the cloud but writes nothing to it."""
    s = _session(session)
    loaded = validate(path, s)
    _refuse_early(s, loaded, target, strategy)
    image = _built_image(s, loaded)
    return planner.deploy(s, loaded, target, image, strategy=strategy, steps=steps)


def _refuse_early(s: Session, loaded: LoadedSpec, target: str, strategy: str | None) -> None:
    """What the target cannot do, refused before building (as the CLI does): an unknown target,
    secret references its provider cannot use, canary where traffic cannot be split."""
    provider, _t = s.target(loaded, target)
    check_secret_refs(loaded, provider, target)
    check_canary(provider, target, strategy or loaded.spec.rollout.strategy)


def deploy(path: str | Path | None = None, target: str = "", *, strategy: str | None = None,
           steps: list[int] | None = None, gate_timeout: float | None = None, break_lock: bool = False,
           image: str | None = None, session: Session | None = None, kind: str = "deploy") -> Result:
    """Build, then execute exactly the plan for ``target``; a failed gate rolls back and raises
    :class:`~modelport.errors.HealthGateFailed`. With ``image`` (a ``sha256:`` manifest digest)
    nothing is built: that image is deployed, found by :func:`image_ref` before anything is
    journaled (:class:`~modelport.errors.ImageNotFound`, exit 2, when it is nowhere). ``kind``
    names the operation in the journal and the history (``swap`` calls this with ``kind="swap"``)."""
    s = _session(session)
    loaded = validate(path, s)
    _refuse_early(s, loaded, target, strategy)
    name = loaded.spec.deployment
    if image is not None:
        found, source = find_image(s.state, name, image, field="--image")
        return _deploy_image(s, loaded, target, found, strategy=strategy, steps=steps, gate_timeout=gate_timeout,
                             break_lock=break_lock, kind=kind, source=source)
    executor.wait_lock_free(s.state, name, wait=s.wait_lock, emit=s.emit)  # fail fast, before building
    executor.check_unfinished(s.state, name)
    # hold the lock while building too, so a second process started meanwhile fails at once
    # instead of building the same image and failing later; apply takes it again
    executor.take_lock(s.state, name, executor.holder_name(kind), break_stale=break_lock, wait=s.wait_lock,
                       emit=s.emit)
    t0 = time.monotonic()
    try:
        built = _built_image(s, loaded)
    finally:
        s.state.release_lock(name)
    return _deploy_image(s, loaded, target, built, strategy=strategy, steps=steps, gate_timeout=gate_timeout,
                         kind=kind, build_seconds=round(time.monotonic() - t0, 3))


def image_ref(digest: str, name: str, *, session: Session | None = None) -> ImageRef:
    """The image of deployment ``name`` with manifest ``digest``, from the digest alone: where a
    recorded revision ran it (its registry reference) or the local image store. Raises
    :class:`~modelport.errors.ImageNotFound` (exit 2) when neither holds it."""
    return find_image(_session(session).state, name, digest)[0]


def deploy_image(loaded: LoadedSpec, target: str, image: ImageRef | str, *, strategy: str | None = None,
                 steps: list[int] | None = None, gate_timeout: float | None = None,
                 break_lock: bool = False, session: Session | None = None, kind: str = "deploy") -> Result:
    """Deploy an image that is already built: an :class:`ImageRef`, or just its digest (a string,
    or an ImageRef with neither image id nor reference), found as :func:`image_ref` finds it,
    before anything is journaled."""
    s = _session(session)
    _refuse_early(s, loaded, target, strategy)
    source = None
    if isinstance(image, str) or not (image.image_id or image.ref):  # a digest alone
        image, source = find_image(s.state, loaded.spec.deployment, image if isinstance(image, str) else image.digest)
    return _deploy_image(s, loaded, target, image, strategy=strategy, steps=steps, gate_timeout=gate_timeout,
                         break_lock=break_lock, kind=kind, source=source)


def promote(name: str, source: str, dest: str, *, strategy: str | None = None, steps: list[int] | None = None,
            gate_timeout: float | None = None, break_lock: bool = False, spec: str | Path | None = None,
            session: Session | None = None) -> Result:
    """Deploy on ``dest`` exactly the image digest that serves ``name`` on ``source`` (copied
    between their registries when needed), gated like any swap, with the spec's settings for
    ``dest``. Nothing is journaled unless ``source`` serves a revision this store recorded."""
    s = _session(session)
    loaded, image, origin = _promoted(s, name, source, dest, strategy, spec)
    result = _deploy_image(s, loaded, dest, image, strategy=strategy, steps=steps, gate_timeout=gate_timeout,
                           break_lock=break_lock, kind="promote", source=origin)
    result.outputs["source"] = source
    return result


def _promoted(s: Session, name: str, source: str, dest: str, strategy: str | None,
              spec: str | Path | None) -> tuple[LoadedSpec, ImageRef, str | None]:
    """The spec, the image serving ``name`` on ``source`` and the target to copy it from."""
    if source == dest:
        raise UsageError("--from and --to name the same target")
    loaded = _spec_for(s, name, source, spec)
    _refuse_early(s, loaded, dest, strategy)
    provider, t = s.target(loaded, source)
    observed = planner.read(s, provider, t, name)
    active = observed.active_revision
    if active is None:
        raise NotFound(f"{name} is not serving on {source}; nothing to promote", deployment=name, target=source)
    serving = observed.revision(active)
    image, origin = find_image(s.state, name, serving.digest)
    version = (serving.extra or {}).get("model_version")
    if version and version != loaded.spec.model.version:  # the spec file is a later swap's: the image is not
        spec = loaded.spec.model_copy(update={"model": loaded.spec.model.model_copy(update={"version": version})})
        loaded = loaded.model_copy(update={"spec": spec})
    return loaded, image, origin


def _deploy_image(s: Session, loaded: LoadedSpec, target: str, image: ImageRef, *, strategy: str | None,
                  steps: list[int] | None, gate_timeout: float | None, break_lock: bool = False,
                  kind: str = "deploy", build_seconds: float | None = None, source: str | None = None) -> Result:
    """Plan and apply; ``build_seconds`` (the build this deploy ran) is journaled with the operation.
    An interrupted operation is refused first: a plan made against its half-done state could be
    empty and hide it."""
    executor.check_unfinished(s.state, loaded.spec.deployment)
    the_plan = planner.deploy(s, loaded, target, image, kind=kind, strategy=strategy, steps=steps, source=source)
    extra = {"build_seconds": build_seconds} if build_seconds is not None else {}
    result = _apply(s, loaded, the_plan, gate_timeout, break_lock, **extra)
    result.outputs.update({"name": loaded.spec.deployment, "target": target,
                           "provider": s.target(loaded, target)[0].name,
                           "image": {"ref": image.ref or _local_ref(loaded), "digest": image.digest,
                                     "image_id": image.image_id}, **extra})
    return result


def swap(path: str | Path | None = None, target: str = "", *, strategy: str = "blue-green",
         steps: list[int] | None = None, gate_timeout: float | None = None, break_lock: bool = False,
         session: Session | None = None) -> Result:
    """Deploy a new model version on ``target`` with ``strategy`` (all-at-once, blue-green, canary)."""
    return deploy(path, target, strategy=strategy, steps=steps, gate_timeout=gate_timeout, break_lock=break_lock,
                  session=session, kind="swap")


def _local_ref(loaded: LoadedSpec) -> str:
    return f"modelport/{loaded.spec.model.name}:{loaded.spec.model.version}"


# -- by deployment name ------------------------------------------------------------------------------

def _spec_for(s: Session, name: str, target: str | None, spec: str | Path | None) -> LoadedSpec:
    # operations on a deployed revision check sizes where they create something (migrate fits)
    if spec:
        return validate(spec, s, sizes=False)
    rows = s.state.deployments(name, target)
    if not rows:
        raise NotFound(f"no deployment {name!r}" + (f" on {target!r}" if target else "") + " in the state store",
                       hint="pass --spec PATH to name its modelport.toml")
    return validate(rows[0]["spec_file"], s, sizes=False)


def rollback(name: str, target: str, *, revision: str | None = None, spec: str | Path | None = None,
             gate_timeout: float | None = None, session: Session | None = None) -> Result:
    """Return all traffic on ``target`` to ``revision`` (default: the previous one)."""
    s = _session(session)
    loaded = _spec_for(s, name, target, spec)
    result = _apply(s, loaded, planner.rollback(s, loaded, name, target, revision), gate_timeout)
    result.outputs.update({"name": name, "target": target, "provider": s.target(loaded, target)[0].name})
    return result


def destroy(name: str, target: str, *, spec: str | Path | None = None, session: Session | None = None) -> Result:
    """Delete every resource of ``name`` on ``target``."""
    s = _session(session)
    loaded = _spec_for(s, name, target, spec)
    the_plan = planner.destroy(s, loaded, name, target)
    result = _apply(s, loaded, the_plan)
    if the_plan.empty:
        s.state.forget_deployment(name, target)
    result.outputs.update({"name": name, "target": target, "provider": s.target(loaded, target)[0].name})
    return result


def migrate(name: str, source: str, dest: str, *, retire_source: bool = False, spec: str | Path | None = None,
            gate_timeout: float | None = None, break_lock: bool = False,
            session: Session | None = None) -> Result:
    """Move ``name`` from ``source`` to ``dest``: same image digest, size mapped to the nearest one
    ``dest`` allows, verified by comparing outputs, and only then (if asked) retire the source."""
    s = _session(session)
    if source == dest:
        raise UsageError("--from and --to name the same target")
    loaded = _spec_for(s, name, source, spec)
    s.target(loaded, source)
    s.target(loaded, dest)
    executor.wait_lock_free(s.state, name, wait=s.wait_lock, emit=s.emit)
    executor.check_unfinished(s.state, name)
    the_plan, placed = planner.migrate(s, loaded, name, source, dest, retire_source=retire_source)
    result = _apply(s, loaded, the_plan, gate_timeout, break_lock)
    result.outputs.update({"name": name, "source": source, "target": dest, "provider": s.target(loaded, dest)[0].name,
                           "image": {"digest": placed.digest, "ref": placed.ref}, "size_notes": list(the_plan.notes)})
    return result


# -- interrupted operations ---------------------------------------------------------------------------

def _take_interrupted(s: Session, name: str, verb: str):
    """Take the lock (breaking it only if its holder is dead), then read the interrupted
    operation: read before locking, two racing ``resume``/``abort`` could both act on it."""
    executor.take_lock(s.state, name, executor.holder_name(verb), break_stale=True, wait=s.wait_lock, emit=s.emit)
    try:
        op = s.state.unfinished(name)
        if op is None:
            raise NotFound(f"{name!r} has no interrupted operation")
        loaded = validate(op.context["spec_file"], s, sizes=False)  # the journaled plan is what runs
        the_plan = Plan.from_journal(op.kind, name, op.targets, op.plan)
        ctx = _execution(s, loaded, op.targets, op.context.get("gate_timeout"))
        s.state.set_lock_operation(name, op.id)
    except BaseException:
        s.state.release_lock(name)
        raise
    return op, the_plan, ctx


def resume(name: str, session: Session | None = None) -> Result:
    """Finish an operation that was killed mid-way, from its first unfinished step."""
    s = _session(session)
    op, the_plan, ctx = _take_interrupted(s, name, "resume")
    try:
        return executor.resume(the_plan, ctx, op.id, op.done)
    finally:
        s.state.release_lock(name)


def abort(name: str, session: Session | None = None) -> Result:
    """Roll back an operation that was killed mid-way: a :class:`Result` like :func:`resume`'s,
    with ``status`` ``aborted`` and ``undone_from_step`` (and any ``rollback_problems``) in its
    outputs."""
    s = _session(session)
    op, the_plan, ctx = _take_interrupted(s, name, "abort")
    try:
        result = executor.abort(the_plan, ctx, op.id, op.done)
    finally:
        s.state.release_lock(name)
    result.outputs["name"] = name
    return result


# -- registries ----------------------------------------------------------------------------------------

def push(path: str | Path | None = None, target: str = "", *, progress=None, session: Session | None = None):
    """Build (cached) and push the image to ``target``'s registry by digest; returns the
    :class:`~modelport.registry.TransferResult` (its ``digest`` equals the built digest)."""
    from .registry import OciStore
    from .registry import push as registry_push

    s = _session(session)
    loaded = validate(path, s)
    provider, t = s.target(loaded, target)
    dest = provider.registry(t, loaded.spec.deployment)
    if dest is None:
        raise UsageError(f"target {target!r} ({provider.name}) has no image registry",
                         hint=f"set registry = \"host:port/path\" in [targets.{target}] to push there")
    built = build_image(s.docker(), loaded, s.report)
    return registry_push(OciStore(), built.digest, dest.repository, auth=dest.auth, progress=progress)


def copy(src_ref: str, dest_repo: str, *, src_auth=None, dest_auth=None, progress=None):
    """Copy an image by digest between registries, sending only the blobs the destination lacks."""
    from .registry import copy as registry_copy

    return registry_copy(src_ref, dest_repo, src_auth=src_auth, dest_auth=dest_auth, progress=progress)


# -- orphans ---------------------------------------------------------------------------------------------

def gc(path: str | Path | None = None, target: str | None = None, *, delete: bool = False,
       session: Session | None = None) -> list[dict[str, Any]]:
    """Tagged resources on the spec's targets (or one) that no recorded deployment owns; with
    ``delete``, remove them: one journaled operation per orphaned deployment, under its lock.
    Asks the clouds, not the state file, what exists."""
    s = _session(session)
    loaded = validate(path, s, sizes=False)  # it looks for what exists, whatever its size
    found = planner.orphans(s, loaded, [target] if target else sorted(loaded.spec.targets))
    out = [{"target": t, "provider": provider.name, "kind": res.kind, "id": res.id,
            "deployment": res.deployment, "revision": res.revision, "deleted": False} for t, provider, res in found]
    if delete:
        for the_plan in planner.gc(found):
            _apply(s, loaded, the_plan)
        for entry in out:
            entry["deleted"] = True
    return out


from .api_plan import (plan_abort, plan_destroy, plan_migrate, plan_promote, plan_resume,  # noqa: E402,F401
                       plan_rollback, plan_swap)
from .api_read import history, logs, predict, status  # noqa: E402,F401  (part of this API)
from .api_evaluate import evaluate  # noqa: E402,F401  (part of this API)
