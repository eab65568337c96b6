"""The strategies, written once for every provider: deploy, swap (all-at-once, blue-green,
canary), rollback, migrate and destroy. Each is a pure function from what the planner read
(``planner.py``) to a Plan; nothing here calls a cloud or writes. The executor runs the plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import CapabilityError, NotFound, UsageError
from ..provider import Observed, Provider, RevisionSpec, Target
from .plan import Plan
from .revision import next_revision_name, renamed, to_data
from .steps import (Compare, CreateRevision, DeleteRevision, Destroy, Forget, Gate, Record, SetTraffic, Step,
                    UpdateRevision, Validate, WaitReady)

STRATEGIES = ("all-at-once", "blue-green", "canary")


@dataclass(frozen=True)
class RolloutInputs:
    """What a rollout (deploy, swap, a migration's destination) is planned from, all read before.

    ``revision`` is the wanted revision (named once planned); ``known`` the revision names the
    state store has seen on the target (never reused); ``before`` the infrastructure and image
    steps that come first; ``serving_spec`` the RevisionSpec data of the serving revision, with
    which all-at-once on a provider with ``in_place_update`` updates that revision in place (its
    undo restores it)."""

    kind: str
    provider: Provider
    target: Target
    observed: Observed
    revision: RevisionSpec
    strategy: str
    steps: tuple[int, ...]
    keep: int
    known: tuple[str, ...] = ()
    before: tuple[Step, ...] = ()
    serving_spec: dict[str, Any] | None = None
    analyse: bool = False   # gates bake per [rollout.analysis]
    validate: bool = False  # the evaluation set gates the new revision before traffic moves


def _pct(weights: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}%" for k, v in weights.items() if v) or "none"


def matching_revision(observed: Observed, rev: RevisionSpec):
    """An existing revision with the same image and configuration, if any."""
    return next((r for r in observed.revisions if r.digest == rev.image.digest and r.config == rev.config), None)


def check_canary(provider: Provider, target: str, strategy: str) -> None:
    """Canary needs a provider that can split traffic: refuse it, before anything changes, elsewhere."""
    if strategy == "canary" and not provider.capabilities.traffic_split:
        raise CapabilityError(
            f"provider {provider.name!r} (target {target!r}) cannot split traffic, so canary is refused",
            hint="use --strategy blue-green (new revision gated, then switched) or all-at-once")


def plan_rollout(i: RolloutInputs) -> Plan:
    """Deploy ``i.revision`` on ``i.target``: nothing when it already serves all traffic; otherwise
    a new revision moved in by ``i.strategy``, every traffic move gated, older revisions pruned."""
    t, observed, provider = i.target.name, i.observed, i.provider
    if i.strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {i.strategy!r}; choose one of {', '.join(STRATEGIES)}")
    same = matching_revision(observed, i.revision)
    current = observed.active_revision
    if same is not None and observed.traffic.get(same.name) == 100:
        return Plan(i.kind, i.revision.deployment, (t,), (), observed=observed)
    check_canary(provider, t, i.strategy)
    out: list[Step] = list(i.before)
    if (i.strategy == "all-at-once" and provider.capabilities.in_place_update and same is None
            and current is not None and i.serving_spec is not None):
        return _in_place(i, current, out)
    rev = i.revision
    if same is not None:  # the wanted revision exists but is not serving all traffic
        name = same.name
    else:
        name = next_revision_name([r.name for r in observed.revisions] + list(i.known))
        rev = renamed(rev, name)
        out.append(CreateRevision(target=t, desc=f"create revision {name} on {t} ({provider.name}): {_size(rev)}",
                                  revision=name, rev=to_data(rev), resources=provider.translate(rev, i.target)))
    out += _moves(i, name)
    out += _prune(t, observed, keep_after=[name, *([current] if current and current != name else [])], keep=i.keep)
    out.append(_record(t, name, rev))
    return Plan(i.kind, rev.deployment, (t,), tuple(out))


def _moves(i: RolloutInputs, name: str) -> list[Step]:
    """The gated traffic moves of ``i.strategy`` onto revision ``name`` (validated first when
    ``i.validate``, every gate baking when ``i.analyse``)."""
    t, a = i.target.name, i.analyse
    previous = {k: v for k, v in i.observed.traffic.items() if v}
    out: list[Step] = []
    if not previous or i.strategy == "all-at-once":
        out.append(WaitReady(target=t, desc=f"wait until {name} is ready", revision=name))
        out += _validate(i, name)
        out += _shift(t, previous, {name: 100})
        out.append(_endpoint_gate(t, name, a))
    elif i.strategy == "blue-green":  # validation first: it is the cheaper verdict, and waits for readiness
        out += _validate(i, name)
        out.append(_revision_gate(t, name, a))
        out += _shift(t, previous, {name: 100})
        out.append(_endpoint_gate(t, name, a))
    else:  # canary
        out += _validate(i, name)
        out.append(_revision_gate(t, name, a))
        before = previous
        for pct in i.steps:
            after = _split(previous, name, pct)
            out += _shift(t, before, after)
            out.append(Gate(target=t, desc=f"gate at {pct}%: {name} and the {t} endpoint answer" + _baked(a),
                            revision=name, via="revision+endpoint", weights=after, analyse=a))
            before = after
    return out


def _validate(i: RolloutInputs, name: str) -> list[Step]:
    if not i.validate:
        return []
    return [Validate(target=i.target.name, desc=f"validate {name} on the evaluation set before traffic moves",
                     revision=name)]


def _baked(analyse: bool) -> str:
    return ", analysed under load" if analyse else ""


def _in_place(i: RolloutInputs, current: str, out: list[Step]) -> Plan:
    """All-at-once on an in-place provider: the serving revision becomes the new one (no second
    revision, no traffic move), then the endpoint is gated."""
    t, observed = i.target.name, i.observed
    name = next_revision_name([r.name for r in observed.revisions] + list(i.known))
    rev = renamed(i.revision, name)
    where = (observed.revision(current).extra or {}).get("group") or current
    note = f"updates {where} in place: the container restarts"
    out.append(UpdateRevision(target=t, desc=f"update revision {current} to {name} on {t} ({i.provider.name}): "
                              f"{_size(rev)}; {note}", revision=name, current=current, rev=to_data(rev),
                              previous_rev=i.serving_spec, resources=i.provider.translate(rev, i.target)))
    out.append(WaitReady(target=t, desc=f"wait until {name} is ready", revision=name))
    out += _validate(i, name)  # in place, the new version serves already: a refusal restores the previous
    out.append(_endpoint_gate(t, name, i.analyse))
    out += _prune(t, observed, keep_after=[name, current], keep=i.keep)
    out.append(_record(t, name, rev))
    return Plan(i.kind, rev.deployment, (t,), tuple(out), (note,))


def _size(rev: RevisionSpec) -> str:
    return f"image {rev.image.digest[:19]}, {rev.size.cpu:g} vCPU / {rev.size.memory_mib} MiB"


def _endpoint_gate(t: str, revision: str, analyse: bool = False) -> Gate:
    """The gate after a move of all traffic to ``revision``: only its model version may answer."""
    return Gate(target=t, desc=f"gate: {t} endpoint answers the smoke request" + _baked(analyse), revision=revision,
                via="endpoint", weights={revision: 100}, analyse=analyse)


def _revision_gate(t: str, revision: str, analyse: bool = False) -> Gate:
    return Gate(target=t, desc=f"gate: {revision} is ready and answers the smoke request" + _baked(analyse),
                revision=revision, via="revision", analyse=analyse)


def _record(t: str, name: str, rev: RevisionSpec) -> Record:
    return Record(target=t, desc="record the deployment", revision=name, digest=rev.image.digest,
                  model_version=rev.model_version, image_ref=rev.image.ref, config=rev.config)


def _split(previous: dict[str, int], new: str, pct: int) -> dict[str, int]:
    """``pct`` to the new revision, the rest spread over the previous ones in proportion."""
    if pct >= 100 or not previous:
        return {new: 100}
    rest, total = 100 - pct, sum(previous.values())
    out = {k: v * rest // total for k, v in previous.items()}
    biggest = max(out, key=out.get)
    out[biggest] += rest - sum(out.values())
    return {**{k: v for k, v in out.items() if v}, new: pct}


def _shift(t: str, before: dict[str, int], after: dict[str, int]) -> list[Step]:
    return [SetTraffic(target=t, desc=f"traffic on {t}: {_pct(before)} -> {_pct(after)}", weights=after,
                       previous=before)]


def _prune(t: str, observed: Observed, keep_after: list[str], keep: int) -> list[Step]:
    """Delete revisions beyond the newest ``keep`` previous ones (always keeping ``keep_after``)."""
    others = [r.name for r in sorted(observed.revisions, key=lambda r: _num(r.name)) if r.name not in keep_after]
    spare = max(keep - (len(keep_after) - 1), 0)
    victims = others[:-spare] if spare else others
    return [DeleteRevision(target=t, desc=f"delete revision {v} on {t} (beyond keep_revisions={keep})", revision=v)
            for v in victims]


def _num(name: str) -> int:
    return int(name[1:]) if name[1:].isdigit() else 0


def plan_migration(rollout: Plan, source: str, retire_source: bool, notes: list[str]) -> Plan:
    """A migration: the rollout on the destination with the outputs compared before it is
    recorded, then (if asked) the source retired -- only after both."""
    dest, name = rollout.targets[0], rollout.deployment
    compare = Compare(target=dest, desc=f"compare outputs on {source} and {dest} for the sample input", source=source)
    retire = (Destroy(target=source, desc=f"retire {name} on {source}"),
              Forget(target=source, desc=f"forget {name} on {source}")) if retire_source else ()
    return Plan("migrate", name, (source, dest), rollout.steps[:-1] + (compare,) + rollout.steps[-1:] + retire,
                tuple(notes))


def plan_rollback(target: Target, observed: Observed, deployment: str, revision: str | None,
                  history: list[str]) -> Plan:
    """Return all traffic to ``revision`` or, by default, the newest revision before the active one."""
    t = target.name
    current = observed.active_revision
    names = [r.name for r in observed.revisions]
    if revision is None:
        older = [n for n in sorted(names, key=_num) if current is None or _num(n) < _num(current)]
        if not older:
            raise NotFound(f"{deployment} on {t} has no earlier revision to roll back to "
                           f"(revisions: {', '.join(names) or 'none'})")
        revision = older[-1]
    elif revision not in names:
        hint = "it was deleted; redeploy that version instead" if revision in history else None
        raise NotFound(f"{deployment} on {t} has no revision {revision!r} "
                       f"(revisions: {', '.join(names) or 'none'})", hint=hint)
    if observed.traffic.get(revision) == 100:
        return Plan("rollback", deployment, (t,), ())
    previous = {k: v for k, v in observed.traffic.items() if v}
    rev = observed.revision(revision)
    steps = [WaitReady(target=t, desc=f"wait until {revision} is ready", revision=revision),
             *_shift(t, previous, {revision: 100}),
             _endpoint_gate(t, revision),
             Record(target=t, desc="record the deployment", revision=revision, digest=rev.digest,
                    model_version=(rev.extra or {}).get("model_version"), image_ref=None, config=rev.config)]
    return Plan("rollback", deployment, (t,), tuple(steps))


def plan_destroy(target: Target, observed: Observed, deployment: str) -> Plan:
    """Delete everything of ``deployment`` on ``target``, then forget it (nothing when nothing exists)."""
    t = target.name
    if not observed.exists:
        return Plan("destroy", deployment, (t,), ())
    what = ", ".join([*(r.name for r in observed.revisions), *observed.infrastructure])
    return Plan("destroy", deployment, (t,), (Destroy(target=t, desc=f"delete {deployment} on {t}: {what}"),
                                               Forget(target=t, desc="forget the deployment")))
