"""What a user would check after an interrupted operation was resumed or aborted: the expected
version answers through the endpoint, state and cloud agree (revisions, recorded revision,
traffic, no drift), nothing tagged is orphaned, no lock and no running operation is left."""

from __future__ import annotations

from pathlib import Path

from modelport import api
from modelport.engine.session import Session
from modelport.state import RUNNING
from tests.iris import SAMPLE, SOURCES, served_version  # noqa: F401  (re-exported)


def check(s: Session, name: str, spec: Path, expect: dict[str, str | None]) -> list[str]:
    """Problems found with deployment ``name`` (empty when all is well)."""
    problems = []
    if s.state.lock_holder(name):
        problems.append(f"a lock is left: {s.state.lock_holder(name)}")
    running = [o.id for o in s.state.operations(name) if o.status == RUNNING]
    if running:
        problems.append(f"operations still running: {running}")
    orphans = [o for o in api.gc(spec, session=s) if o["deployment"] == name]
    if orphans:
        problems.append(f"orphans: {[(o['target'], o['kind'], o['id']) for o in orphans]}")
    loaded = api.validate(spec, s, sizes=False)
    for target, version in expect.items():
        problems += [f"{target}: {p}" for p in _check_target(s, loaded, name, target, version)]
    return problems


def _check_target(s: Session, loaded, name: str, target: str, version: str | None) -> list[str]:
    provider, t = s.target(loaded, target)
    observed = provider.observe(t, name)
    cloud = sorted(r.name for r in observed.revisions)
    recorded = sorted(r["revision"] for r in s.state.revisions(name, target) if not r["deleted"])
    problems = [] if cloud == recorded else [f"the cloud has revisions {cloud}, the state {recorded}"]
    rows = s.state.deployments(name, target)
    if version is None:
        if observed.revisions or rows:
            problems.append(f"should hold nothing, but the cloud has {cloud} and the state {len(rows)} row(s)")
        return problems
    if not rows:
        return problems + ["no deployment recorded"]
    status = api.status(name, target, session=s)[0]
    if status["drift"]:
        problems.append(f"drift: {status['drift']}")
    active = observed.active_revision
    if rows[0]["revision"] != active or observed.traffic.get(active) != 100:
        problems.append(f"recorded revision {rows[0]['revision']}, the cloud's traffic {dict(observed.traffic)}")
    if not observed.endpoint:
        return problems + ["no endpoint"]
    served = served_version(observed.endpoint, provider.endpoint_headers(t, name))
    if served != version:
        problems.append(f"serves v{served}, expected v{version}")
    return problems
