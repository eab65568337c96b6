"""The commands release scripts lean on: ``modelport plan`` (for every operation,
``--detailed-exitcode``), ``modelport promote`` (a digest from one target to another) and
``modelport history`` (for machines: filters by operation, target and time). Registered on the
``modelport`` group."""

from __future__ import annotations

from pathlib import Path

import click

from . import api
from .cli import BREAK_LOCK, GATE, PATH, STEPS, STRATEGY, TO, WAIT_LOCK, _result_text, _ts, command, main
from .cli_input import parse_steps, parse_time, preflight
from .engine.session import Session
from .errors import EXIT_CHANGES, UsageError

PLANNED = ["deploy", "swap", "rollback", "migrate", "promote", "destroy", "resume", "abort"]


@command(main, "plan")
@PATH
@click.option("--for", "kind", type=click.Choice(PLANNED), default="deploy", show_default=True,
              help="The operation to plan.")
@click.option("--to", "target", help="Target name (all but resume and abort).")
@click.option("--name", help="Deployment name, for rollback, migrate, promote, destroy, resume, abort "
                             "(default: the spec's).")
@click.option("--from", "source", help="Source target (migrate, promote).")
@click.option("--revision", help="Revision to return to (rollback).")
@click.option("--retire-source", is_flag=True, help="migrate: retire the source once verified.")
@STRATEGY
@STEPS
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when nothing would change, 10 when something would (errors keep their codes).")
def plan_cmd(session: Session, path, kind, target, name, source, revision, retire_source, strategy, steps,
             detailed_exitcode):
    """Show what an operation would change (and what abort would undo); writes nothing."""
    steps = parse_steps(steps)
    the_plan = _plan_for(session, kind, path, target, name, source, revision, retire_source, strategy, steps)
    code = (EXIT_CHANGES if not the_plan.empty else 0) if detailed_exitcode else 0
    return the_plan.to_dict(), the_plan.render(), code


def _plan_for(session, kind, path, target, name, source, revision, retire_source, strategy, steps):
    from . import api_plan

    def need(value, option):
        if not value:
            raise UsageError(f"plan --for {kind} needs {option}")
        return value

    if kind in ("deploy", "swap"):
        api.validate(path, session)  # the spec's own errors first, each naming its field
        preflight(session, path, need(target, "--to"), strategy, secret_values=False)
        fn = api.plan if kind == "deploy" else api_plan.plan_swap
        return fn(path, target, strategy=strategy, steps=steps, session=session)
    name = name or (api.validate(path, session).spec.deployment if path else need(name, "--name"))
    spec = path if path else None
    if kind == "rollback":
        return api_plan.plan_rollback(name, need(target, "--to"), revision=revision, spec=spec, session=session)
    if kind == "migrate":
        return api_plan.plan_migrate(name, need(source, "--from"), need(target, "--to"), retire_source=retire_source,
                                     spec=spec, session=session)
    if kind == "promote":
        return api_plan.plan_promote(name, need(source, "--from"), need(target, "--to"), strategy=strategy,
                                     steps=steps, spec=spec, session=session)
    if kind == "destroy":
        return api_plan.plan_destroy(name, need(target, "--to"), spec=spec, session=session)
    return (api_plan.plan_resume if kind == "resume" else api_plan.plan_abort)(name, session=session)


@command(main, "history")
@click.argument("name")
@click.option("--operation", type=click.IntRange(min=1), help="Only this operation (its id).")
@click.option("--to", "target", help="Only this target.")
@click.option("--since", metavar="TIME", help="Only from TIME on: ISO 8601 (2026-12-06T07:00:00Z) or Unix seconds.")
@click.option("--until", metavar="TIME", help="Only up to TIME (same forms).")
def history_cmd(session: Session, name, operation, target, since, until):
    """Every operation, revision, digest, traffic change and outcome."""
    data = api.history(name, session, operation=operation, target=target, since=parse_time(since, "--since"),
                       until=parse_time(until, "--until"))
    lines = []
    for ev in data["events"]:
        took = ev["data"].get("duration") if isinstance(ev["data"], dict) else None
        lines.append(f"{_ts(ev['ts'])}  {ev['target'] or '':<10} {ev['kind']:<15} {ev['message']}"
                     + (f"  ({took:.1f}s)" if took is not None else ""))
    for op in data["operations"]:
        if op["build_seconds"] is not None:
            lines.append(f"operation #{op['id']} ({op['kind']}): built in {op['build_seconds']:.1f}s")
    return data, "\n".join(lines)


@command(main, "promote")
@click.argument("name")
@click.option("--from", "source", required=True, help="Target whose serving image is promoted (e.g. staging).")
@TO
@STRATEGY
@STEPS
@click.option("--spec", type=click.Path(path_type=Path), help="modelport.toml (default: the one last deployed).")
@GATE
@BREAK_LOCK
@WAIT_LOCK
def promote_cmd(session: Session, name, source, target, strategy, steps, spec, gate_timeout, break_lock):
    """Deploy on --to exactly the image digest serving on --from, gated like any swap."""
    result = api.promote(name, source, target, strategy=strategy, steps=parse_steps(steps), spec=spec,
                         gate_timeout=gate_timeout, break_lock=break_lock, session=session)
    return result.to_dict(), _result_text(result, "promote")
