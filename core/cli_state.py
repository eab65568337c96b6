"""``modelport state ...``: move the state store to another backend, or rebuild it from the
clouds' tags. Registered on the main group by :mod:`modelport.cli`."""

from __future__ import annotations

from pathlib import Path

import click

from .cli import PATH, TO, command, main
from .engine.session import Session
from .state import check_url, transfer


@main.group("state")
def state_group() -> None:
    """Move the state store to another backend, or rebuild it from the clouds."""


@command(state_group, "migrate")
@click.option("--to", "dest", required=True, metavar="URL",
              help="The empty store to copy into: a path, sqlite:///PATH, postgresql://..., s3://..., azblob://...")
def state_migrate_cmd(session: Session, dest: str):
    """Copy every record, history included, from --state to --to URL (refused while a lock is held)."""
    result = transfer.migrate(session.state, check_url(dest, "--to"))
    counts = (f"{len(result['names'])} deployment(s) ({result['deployments']} on targets): {result['revisions']} revisions, "
              f"{result['operations']} operations, {result['events']} events")
    return result, f"copied {counts} from {result['from']} to {result['to']}\n" \
                   f"set MODELPORT_STATE={result['to']} (or --state) to use it"


@command(state_group, "import")
@PATH
@TO
def state_import_cmd(session: Session, path: Path | None, target: str):
    """Rebuild the records of every tagged deployment on a target from the cloud itself."""
    rows = transfer.rebuild(session, path, target)
    if not rows:
        return {"imported": []}, f"no tagged deployment on {target}"
    lines = [f"{'imported' if r['imported'] else 'skipped '} {r['name']} on {r['target']}: "
             + (f"revisions {', '.join(r['revisions'])}, serving {r['revision']}" if r["imported"] else r["reason"])
             for r in rows]
    return {"imported": rows}, "\n".join(lines)
