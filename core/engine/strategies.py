"""The strategies, written once for every provider: deploy, swap (all-at-once, blue-green,
canary), rollback, migrate and destroy. Each turns desired vs. observed state into a Plan;
nothing here writes. The executor (``executor.py``) runs the plan."""

from __future__ import annotations

from typing import Any

from ..errors import CapabilityError, NotFound, UsageError
from ..provider import Observed, Provider, RevisionSpec, Target
from .plan import Plan, step
from .revision import next_revision_name, renamed, to_data

STRATEGIES = ("all-at-once", "blue-green", "canary")


def _pct(weights: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}%" for k, v in weights.items() if v) or "none"


def matching_revision(observed: Observed, rev: RevisionSpec):
    """An existing revision with the same image and configuration, if any."""
    return next((r for r in observed.revisions if r.digest == rev.image.digest and r.config == rev.config), None)


def active_revision(observed: Observed) -> str | None:
    """The revision holding the most traffic."""
    if not observed.traffic:
        return None
    name, weight = max(observed.traffic.items(), key=lambda kv: kv[1])
    return name if weight > 0 else None


def plan_rollout(provider: Provider, target: Target, observed: Observed, rev: RevisionSpec,
                 strategy: str, steps: list[int], keep: int, known_names: list[str],
                 image_steps: list[dict[str, Any]], infra_steps: list[dict[str, Any]],
                 kind: str = "deploy", previous_spec: dict[str, Any] | None = None) -> Plan:
    """Deploy ``rev`` on ``target``: nothing when it already serves all traffic; otherwise a new
    revision moved in by ``strategy``, every traffic move gated, older revisions pruned.
    ``previous_spec``: the RevisionSpec data of the serving revision; with it, all-at-once on a
    provider with ``in_place_update`` updates that revision in place (undo restores it)."""
    t = target.name
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    same = matching_revision(observed, rev)
    current = active_revision(observed)
    if same is not None and observed.traffic.get(same.name) == 100:
        return Plan(kind, rev.deployment, (t,), ())
    notes: list[str] = []
    if strategy == "canary" and not provider.capabilities.traffic_split:
        raise CapabilityError(
            f"provider {provider.name!r} (target {t!r}) cannot split traffic, so canary is refused",
            hint="use --strategy blue-green (new revision gated, then switched) or all-at-once")
    out: list[dict[str, Any]] = [*infra_steps, *image_steps]
    if (strategy == "all-at-once" and provider.capabilities.in_place_update and same is None
            and current is not None and previous_spec is not None):
        return _in_place(provider, target, observed, rev, current, previous_spec, keep, known_names, out, kind)
    if same is not None:  # the wanted revision exists but is not serving all traffic
        name = same.name
    else:
        name = next_revision_name([r.name for r in observed.revisions] + known_names)
        rev = renamed(rev, name)
        out.append(step("create_revision", t, f"create revision {name} on {t} ({provider.name}): "
                        f"image {rev.image.digest[:19]}, {rev.size.cpu:g} vCPU / {rev.size.memory_mib} MiB",
                        revision=name, rev=to_data(rev), resources=provider.translate(rev, target)))
    previous = {k: v for k, v in observed.traffic.items() if v}
    first = not previous
    if first or strategy == "all-at-once":
        out.append(step("wait_ready", t, f"wait until {name} is ready", revision=name))
        out += _shift(t, previous, {name: 100})
        out.append(step("gate", t, f"gate: {t} endpoint answers the smoke request", revision=name, via="endpoint"))
    elif strategy == "blue-green":
        out.append(step("gate", t, f"gate: {name} is ready and answers the smoke request", revision=name, via="revision"))
        out += _shift(t, previous, {name: 100})
        out.append(step("gate", t, f"gate: {t} endpoint answers the smoke request", revision=name, via="endpoint"))
    else:  # canary
        out.append(step("gate", t, f"gate: {name} is ready and answers the smoke request", revision=name, via="revision"))
        before = previous
        for pct in steps:
            after = _split(previous, name, pct)
            out += _shift(t, before, after)
            out.append(step("gate", t, f"gate at {pct}%: {name} and the {t} endpoint answer", revision=name,
                            via="revision+endpoint"))
            before = after
    out += _prune(t, observed, keep_after=[name, *( [current] if current and current != name else [])], keep=keep)
    out.append(step("record", t, "record the deployment", revision=name, digest=rev.image.digest,
                    model_version=rev.model_version, image_ref=rev.image.ref, config=rev.config))
    return Plan(kind, rev.deployment, (t,), tuple(out), tuple(notes))


def _in_place(provider: Provider, target: Target, observed: Observed, rev: RevisionSpec, current: str,
              previous_spec: dict[str, Any], keep: int, known_names: list[str], out: list[dict[str, Any]],
              kind: str) -> Plan:
    """All-at-once on an in-place provider: the serving revision becomes the new one (no second
    revision, no traffic move), then the endpoint is gated."""
    t = target.name
    name = next_revision_name([r.name for r in observed.revisions] + known_names)
    rev = renamed(rev, name)
    where = (observed.revision(current).extra or {}).get("group") or current
    note = f"updates {where} in place: the container restarts"
    out.append(step("update_revision", t, f"update revision {current} to {name} on {t} ({provider.name}): "
                    f"image {rev.image.digest[:19]}, {rev.size.cpu:g} vCPU / {rev.size.memory_mib} MiB; {note}",
                    revision=name, current=current, rev=to_data(rev), previous_rev=previous_spec,
                    resources=provider.translate(rev, target)))
    out.append(step("wait_ready", t, f"wait until {name} is ready", revision=name))
    out.append(step("gate", t, f"gate: {t} endpoint answers the smoke request", revision=name, via="endpoint"))
    out += _prune(t, observed, keep_after=[name, current], keep=keep)
    out.append(step("record", t, "record the deployment", revision=name, digest=rev.image.digest,
                    model_version=rev.model_version, image_ref=rev.image.ref, config=rev.config))
    return Plan(kind, rev.deployment, (t,), tuple(out), (note,))


def _split(previous: dict[str, int], new: str, pct: int) -> dict[str, int]:
    """``pct`` to the new revision, the rest spread over the previous ones in proportion."""
    if pct >= 100 or not previous:
        return {new: 100}
    rest, total = 100 - pct, sum(previous.values())
    out = {k: v * rest // total for k, v in previous.items()}
    biggest = max(out, key=out.get)
    out[biggest] += rest - sum(out.values())
    return {**{k: v for k, v in out.items() if v}, new: pct}


def _shift(t: str, before: dict[str, int], after: dict[str, int]) -> list[dict[str, Any]]:
    return [step("set_traffic", t, f"traffic on {t}: {_pct(before)} -> {_pct(after)}",
                 weights=after, previous=before)]


def _prune(t: str, observed: Observed, keep_after: list[str], keep: int) -> list[dict[str, Any]]:
    """Delete revisions beyond the newest ``keep`` previous ones (always keeping ``keep_after``)."""
    others = [r.name for r in sorted(observed.revisions, key=lambda r: _num(r.name)) if r.name not in keep_after]
    spare = max(keep - (len(keep_after) - 1), 0)
    victims = others[:-spare] if spare else others
    return [step("delete_revision", t, f"delete revision {v} on {t} (beyond keep_revisions={keep})", revision=v)
            for v in victims]


def _num(name: str) -> int:
    return int(name[1:]) if name[1:].isdigit() else 0


def plan_rollback(target: Target, observed: Observed, deployment: str, revision: str | None,
                  history: list[str]) -> Plan:
    """Return all traffic to ``revision`` or, by default, the newest revision before the active one."""
    t = target.name
    current = active_revision(observed)
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
    steps = [step("wait_ready", t, f"wait until {revision} is ready", revision=revision),
             *_shift(t, previous, {revision: 100}),
             step("gate", t, f"gate: {t} endpoint answers the smoke request", revision=revision, via="endpoint"),
             step("record", t, "record the deployment", revision=revision, digest=rev.digest,
                  model_version=(rev.extra or {}).get("model_version"), image_ref=None, config=rev.config)]
    return Plan("rollback", deployment, (t,), tuple(steps))


def plan_destroy(target: Target, observed: Observed, deployment: str) -> Plan:
    t = target.name
    if not observed.exists:
        return Plan("destroy", deployment, (t,), ())
    what = ", ".join([*(r.name for r in observed.revisions), *observed.infrastructure])
    return Plan("destroy", deployment, (t,), (step("destroy", t, f"delete {deployment} on {t}: {what}"),
                                               step("forget", t, "forget the deployment")))
