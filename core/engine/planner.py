"""The planner: what an operation would do, computed without changing anything.

For each operation it reads what the plan depends on -- the cloud (``observe``, retried like
every read), the target's image registry (is the image there yet?) and the state store (which
revisions were seen, which one serves) -- and hands it to the strategies (``strategies.py``), which
turn it into a Plan. It never writes: ``plan`` shows what it returns and ``apply`` executes
exactly that.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from ..errors import NotFound
from ..provider import ImageRef, Observed, Provider, Resource, RevisionSpec, Target
from ..spec import LoadedSpec
from . import retry, strategies
from .images import image_present
from .plan import Plan
from .revision import from_data, revision_spec, size_of, with_config
from .session import Session, check_secret_refs
from .steps import CopyImage, DeleteResource, EnsureInfra, PushImage, Step
from .strategies import RolloutInputs

#: the plan of resources no deployment tag names (they share one lock and one journal)
UNTAGGED = "(untagged)"


def read(s: Session, provider: Provider, target: Target, name: str) -> Observed:
    """``provider.observe`` for planning and status, retried like the engine's reads when the
    cloud throttles or drops a connection (see :mod:`modelport.engine.retry`)."""
    return retry.call(lambda: provider.observe(target, name), "observe", retry.ProviderRetryPolicy.from_env(),
                      s.report, f"read {name} on {target.name}", emit=s.emit)


def deploy(s: Session, loaded: LoadedSpec, target_name: str, image: ImageRef, *, kind: str = "deploy",
           strategy: str | None = None, steps: list[int] | None = None, source: str | None = None) -> Plan:
    """Deploy (or swap in) the spec's revision with ``image`` on ``target_name``; with ``source``
    (a target whose registry holds ``image.ref``) the image is copied from there when needed."""
    spec = loaded.spec
    provider, target = s.target(loaded, target_name)
    check_secret_refs(loaded, provider, target_name)
    size = size_of(spec)
    provider.check_size(size, target)
    provider.check_spec(spec, target)
    observed = read(s, provider, target, spec.deployment)
    infra = _infra_steps(provider, target, spec.deployment, observed)
    image_steps, placed = _image_steps(provider, target, spec.deployment, image,
                                       source=(source, image) if source and image.ref else None)
    recorded = s.state.revisions(spec.deployment, target_name)
    return strategies.plan_rollout(RolloutInputs(
        kind=kind, provider=provider, target=target, observed=observed,
        revision=revision_spec(spec, placed, "r0", size, target.settings),
        strategy=strategy or spec.rollout.strategy, steps=tuple(steps or spec.rollout.steps),
        keep=spec.rollout.keep_revisions, known=tuple(r["revision"] for r in recorded),
        before=(*infra, *image_steps), serving_spec=_spec_of(recorded, observed.active_revision),
        analyse=spec.rollout.analysis.bake > 0, validate=spec.validation is not None))


def migrate(s: Session, loaded: LoadedSpec, name: str, source: str, dest: str, *,
            retire_source: bool = False) -> tuple[Plan, ImageRef]:
    """Move the revision serving ``name`` on ``source`` to ``dest`` as it is (image, env, secrets,
    scaling, model version), with the size fitted to what ``dest`` allows and ``dest``'s settings.
    Returns the plan and the image as ``dest`` will pull it."""
    src_provider, src_t = s.target(loaded, source)
    dst_provider, dst_t = s.target(loaded, dest)
    check_secret_refs(loaded, dst_provider, dest)
    observed_src = read(s, src_provider, src_t, name)
    active = observed_src.active_revision
    if active is None:
        raise NotFound(f"{name} is not serving on {source}; nothing to migrate")
    src_rev = _revision_of(s, name, source, observed_src.revision(active).digest)
    src_image = src_rev.image
    size, notes = dst_provider.fit_size(src_rev.size, dst_t)
    observed = read(s, dst_provider, dst_t, name)
    infra = _infra_steps(dst_provider, dst_t, name, observed)
    image_steps, placed = _image_steps(dst_provider, dst_t, name, ImageRef(src_image.digest, src_image.image_id),
                                       source=(source, src_image))
    rollout = strategies.plan_rollout(RolloutInputs(
        kind="migrate", provider=dst_provider, target=dst_t, observed=observed,
        revision=with_config(replace(src_rev, image=placed, size=size, revision="r0"), dst_t.settings),
        strategy="blue-green", steps=(100,), keep=loaded.spec.rollout.keep_revisions,
        known=tuple(r["revision"] for r in s.state.revisions(name, dest)), before=(*infra, *image_steps)))
    return strategies.plan_migration(rollout, source, retire_source, notes), placed


def rollback(s: Session, loaded: LoadedSpec, name: str, target_name: str, revision: str | None) -> Plan:
    """All traffic of ``name`` on ``target_name`` back to ``revision`` (default: the previous one)."""
    provider, target = s.target(loaded, target_name)
    history = [r["revision"] for r in s.state.revisions(name, target_name)]
    return strategies.plan_rollback(target, read(s, provider, target, name), name, revision, history)


def destroy(s: Session, loaded: LoadedSpec, name: str, target_name: str) -> Plan:
    """Everything of ``name`` on ``target_name`` deleted, then forgotten."""
    provider, target = s.target(loaded, target_name)
    return strategies.plan_destroy(target, read(s, provider, target, name), name)


def orphans(s: Session, loaded: LoadedSpec, target_names: list[str]) -> list[tuple[str, Provider, Resource]]:
    """``(target, provider, resource)`` of every tagged resource on the targets that no recorded
    deployment owns (asking the clouds, not the state store, what exists)."""
    found = []
    for name in target_names:
        provider, target = s.target(loaded, name)
        owned = {row["name"] for row in s.state.deployments(target=name)}
        found += [(name, provider, res) for res in provider.list_resources(target) if res.deployment not in owned]
    return found


def gc(found: list[tuple[str, Provider, Resource]]) -> list[Plan]:
    """One plan per orphaned deployment deleting its resources (run under that deployment's lock,
    so a deployment that is being created right now is not taken for an orphan and deleted)."""
    by_deployment: dict[str, list[Step]] = {}
    for target, _provider, res in found:
        by_deployment.setdefault(res.deployment or UNTAGGED, []).append(DeleteResource.of(target, res))
    return [Plan("gc", name, tuple(dict.fromkeys(step.target for step in steps)), tuple(steps))
            for name, steps in by_deployment.items()]


def _image_steps(provider: Provider, target: Target, deployment: str, image: ImageRef,
                 source: tuple[str, ImageRef] | None = None) -> tuple[list[Step], ImageRef]:
    """The push (or, with ``source``, the copy) the target's registry needs, and the image as the
    target will pull it (nothing when it is there already or the target has no registry)."""
    dest = provider.registry(target, deployment)
    if dest is None:
        return [], source[1] if source and source[1].ref else image
    placed = image.at(dest.repository)
    if image_present(dest, image.digest):
        return [], placed
    t = target.name
    if source and source[1].ref:
        return [CopyImage(target=t, desc=f"copy image {image.digest[:19]} from {source[1].ref.split('@')[0]} "
                          f"to {dest.repository}", digest=image.digest, repository=dest.repository,
                          source=source[0], source_ref=source[1].ref, deployment=deployment)], placed
    _check_local(image.digest, dest.repository)
    return [PushImage(target=t, desc=f"push image {image.digest[:19]} to {dest.repository}", digest=image.digest,
                      repository=dest.repository, deployment=deployment)], placed


def _check_local(digest: str, repository: str) -> None:
    """A push needs the image in the local store: refuse before anything is journaled (exit 2)."""
    from ..errors import ImageNotFound
    from ..registry import OciStore

    store = OciStore()
    if not store.has_blob(digest):
        raise ImageNotFound(digest, [f"the local image store {store.root}", repository],
                            hint="build it on this machine (modelport build) or promote it from a target that runs it")


def _infra_steps(provider: Provider, target: Target, deployment: str, observed: Observed) -> list[Step]:
    changes = provider.infrastructure_plan(target, deployment, observed)
    if not changes:
        return []
    what = ", ".join(f"{c.kind} {c.name}" for c in changes)
    return [EnsureInfra(target=target.name, desc=f"create on {target.name}: {what}", fresh=not observed.exists)]


def _spec_of(recorded: list[dict[str, Any]], revision: str | None) -> dict[str, Any] | None:
    """The RevisionSpec data recorded for the (serving) ``revision``, unless it was deleted."""
    return next((json.loads(r["spec"]) for r in recorded
                 if r["revision"] == revision and r.get("spec") and not r.get("deleted")), None)


def _revision_of(s: Session, name: str, target: str, digest: str) -> RevisionSpec:
    for row in reversed(s.state.revisions(name, target)):
        if row["digest"] == digest and row["spec"]:
            return from_data(json.loads(row["spec"]))
    raise NotFound(f"the revision of {name} on {target} serving {digest[:19]} is not in the state store",
                   hint="redeploy it once with this modelport so its revision is recorded")
