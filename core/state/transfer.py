"""Moving state between stores (``modelport state migrate``) and rebuilding it from the clouds'
tags (``modelport state import``), for a new or lost store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .store import StateStore, is_stale


def migrate(source: StateStore, dest_url: str) -> dict[str, Any]:
    """Copy every record of ``source`` (history included, operation ids kept) into the empty
    store at ``dest_url``. Refused while an operation holds a live lock in ``source``; while it
    copies, it holds every deployment's lock in ``source`` itself, so no writer on another
    machine changes a record that is being copied (their commands fail fast, naming it)."""
    names = sorted({r["name"] for rows in source.backend.dump().values() for r in rows})
    taken: list[str] = []
    try:
        for name in names:
            lock = source.lock_holder(name)
            if lock is not None and is_stale(lock):
                continue  # an interrupted operation's lease: no writer behind it; left as it is for resume
            source.acquire_lock(name, f"modelport state migrate --to {dest_url}")  # LockHeld when live
            taken.append(name)
        return _copy(source, dest_url, names)
    finally:
        for name in taken:
            source.release_lock(name)


def _copy(source: StateStore, dest_url: str, names: list[str]) -> dict[str, Any]:
    """Copy the (locked) records of ``source`` into the empty store at ``dest_url``."""
    dest = StateStore(dest_url)
    if dest.url == source.url:
        raise UsageError(f"--to {dest.url}: that is the store being migrated")
    held = {table: len(rows) for table, rows in dest.backend.dump().items() if rows}
    if held:
        raise UsageError(f"--to {dest.url}: the destination already holds state "
                         f"({', '.join(f'{n} {t}' for t, n in held.items())})", hint="migrate into an empty store")
    tables = source.backend.dump()
    started = sorted({r["name"] for rows in tables.values() for r in rows} - set(names))
    if started:  # a first deploy began between the listing and the locks: copy nothing rather than part
        raise UsageError(f"{', '.join(started)}: started on the source while the migration began",
                         hint="run state migrate again once that operation has finished")
    dest.backend.load(tables)
    copied = {table: len(rows) for table, rows in dest.backend.dump().items()}
    expected = {table: len(rows) for table, rows in tables.items()}
    if copied != expected:  # never report success for a partial copy
        raise UsageError(f"--to {dest.url}: copied {copied}, expected {expected}")
    return {"from": source.url, "to": dest.url, "names": names, **copied}


def rebuild(session: Any, path: str | Path | None, target: str) -> list[dict[str, Any]]:
    """Record every deployment the cloud of ``target`` (a target of the spec at ``path``) holds
    with modelport's tags, from the cloud itself: revisions (digest, config, model version),
    traffic, endpoint. A revision whose config the spec reproduces also gets its full revision
    data (what migrate and in-place undo need). Deployments already recorded there are skipped."""
    from .. import api

    loaded = api.validate(path, session, sizes=False)
    provider, t = session.target(loaded, target)
    names = sorted({r.deployment for r in provider.list_resources(t) if r.deployment})
    out = []
    for name in names:
        if session.state.deployments(name, target):
            out.append({"name": name, "target": target, "imported": False, "reason": "already recorded"})
            continue
        session.state.acquire_lock(name, f"modelport state import of {target}")
        try:
            out.append(_rebuild_one(session, loaded, provider, t, name))
        finally:
            session.state.release_lock(name)
    return out


def _rebuild_one(session: Any, loaded: Any, provider: Any, t: Any, name: str) -> dict[str, Any]:
    observed = provider.observe(t, name)
    if not observed.revisions:
        return {"name": name, "target": t.name, "imported": False, "reason": "no revision left"}
    state = session.state
    dest = provider.registry(t, name)
    for r in observed.revisions:
        ref = f"{dest.repository}@{r.digest}" if dest else None
        data = _revision_data(loaded, t, name, r, ref)
        state.record_revision(name, t.name, r.name, r.digest,
                              json.dumps({"digest": r.digest, "image_id": _image_id(r), "ref": ref}), r.config,
                              r.extra.get("model_version") or (data or {}).get("model_version") or "",
                              spec=data)
    active = max(observed.traffic.items(), key=lambda kv: kv[1])[0] if observed.traffic else observed.revisions[-1].name
    state.record_deployment(name, t.name, provider.name, spec_file=str(loaded.file), revision=active,
                            digest=observed.revision(active).digest, endpoint=observed.endpoint,
                            traffic=dict(observed.traffic))
    state.add_event(name, "import", f"record rebuilt from the tags on {t.name}", target=t.name,
                    data={"revisions": [r.name for r in observed.revisions], "traffic": dict(observed.traffic)})
    return {"name": name, "target": t.name, "imported": True, "revision": active,
            "revisions": [r.name for r in observed.revisions], "traffic": dict(observed.traffic),
            "endpoint": observed.endpoint}


def _image_id(r: Any) -> str:
    return r.extra.get("image_id") or r.digest


def _revision_data(loaded: Any, t: Any, name: str, r: Any, ref: str | None) -> dict[str, Any] | None:
    """The revision's full data when the spec, with the revision's image, hashes to its config."""
    from ..engine.revision import revision_spec, to_data
    from ..provider import ImageRef

    if loaded.spec.deployment != name:
        return None
    rev = revision_spec(loaded.spec, ImageRef(r.digest, _image_id(r), ref), r.name, None, t.settings)
    return to_data(rev) if rev.config == r.config else None
