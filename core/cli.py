"""The ``modelport`` command: a thin layer over :mod:`modelport.api`.

Exit codes (:mod:`modelport.errors`): 0 success, 1 an operation failed (and was rolled back),
2 bad input, 3 locked by another live process, 4 an unfinished operation needs resume/abort,
10 ``plan --detailed-exitcode`` with changes pending. Every command takes ``--output json``
(the result on stdout) and ``--events text|jsonl|none`` (progress on stderr).
"""

from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path
from typing import Any, Callable

import click

from . import api
from .cli_copy import _bar, _transfer_text, copy_cmd
from .cli_group import JsonErrorsGroup, fail, respond
from .cli_input import check_text, finite_seconds, open_state, parse_steps, preflight
from .engine.events import Event
from .engine.session import Session
from .errors import EXIT_FAILED, EXIT_UNFINISHED, ModelportError, UsageError
from .plugins import installed_providers

OUTPUT = click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
                      show_default=True, help="json: one JSON document on stdout, for scripts.")
PATH = click.argument("path", required=False, type=click.Path(path_type=Path))
TO = click.option("--to", "target", required=True, help="Target name ([targets.NAME] in modelport.toml).")
EVENTS = click.option("--events", type=click.Choice(["text", "jsonl", "none"]), default="text", show_default=True,
                      help="Progress on stderr: timestamped text, JSON Lines (one event per line; schema in the "
                           "README), or nothing. --output json does not change it.")
WAIT_LOCK = click.option("--wait-lock", type=click.FloatRange(min=0, max=86400), callback=finite_seconds,
                         metavar="SECONDS", help="Wait up to SECONDS for a lock another live process holds "
                                                 "(default: fail at once, exit code 3).")


def _err(msg: str) -> None:
    click.echo(msg, err=True)


def command(group: click.Group | None, name: str, **kwargs) -> Callable:
    """Make ``fn(session, **params) -> (data, text)`` the command ``name``: it gets a
    :class:`~modelport.Session` (progress as ``--events`` says), prints ``text`` or (``--output
    json``) ``data``, and maps errors to one line and the exit codes; ``fn`` may return a third
    item, the exit code of a success that is not plain 0 (``plan --detailed-exitcode``). Added to ``group``; with None the command is returned on its own,
    which is how a plugin builds the commands it registers (``modelport_register_commands``)."""

    def decorate(fn: Callable[..., tuple[Any, str]]) -> Callable:
        @(group.command if group is not None else click.command)(name, **kwargs)
        @OUTPUT
        @EVENTS
        @click.pass_context
        @wraps(fn)
        def run(ctx: click.Context, output: str, events: str, **params: Any) -> None:
            def body() -> tuple:
                check_text(params)
                wait_lock = params.pop("wait_lock", None) or 0.0
                session = Session(state=open_state(ctx.obj["state"]), on_event=event_sink(events),
                                  wait_lock=wait_lock)
                return fn(session, **params)  # a third item: an exit code besides 0

            respond(output, body)

        return run

    return decorate


def event_sink(mode: str) -> Callable[[Event], None]:
    """Where the CLI's progress goes: stderr, as timestamped text, JSON Lines, or nowhere."""
    if mode == "jsonl":
        return lambda ev: click.echo(json.dumps(ev.to_dict(), default=str), err=True)
    if mode == "none":
        return lambda ev: None

    def text(ev: Event) -> None:
        if ev.type != "transfer.progress":  # a line per half second is noise for people; the total follows
            _err(f"{_clock(ev.ts)}  {ev.text()}")

    return text


def _clock(ts: float) -> str:
    import datetime as dt
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%H:%M:%SZ")


_fail = fail


class Modelport(JsonErrorsGroup):
    """The ``modelport`` group: its own commands, then those plugins register (looked up only when
    asked for, so ``import modelport.cli`` loads no plugin)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugin_commands()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        plugins = self._plugin_commands()  # also when ``name`` is built in: a clash is reported
        return super().get_command(ctx, name) or plugins.get(name)

    def _plugin_commands(self) -> dict[str, click.Command]:
        loaded = installed_providers()
        for name in set(loaded.commands) & set(self.commands):
            loaded.refuse_command(name, "has the name of a built-in command")
        return loaded.commands


@click.group(cls=Modelport, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--state", envvar="MODELPORT_STATE", metavar="URL",
              help="State store: a SQLite file (default ~/.local/state/modelport/state.db), sqlite:///PATH, "
                   "postgresql://USER@HOST:PORT/DB, s3://BUCKET/PREFIX or azblob://ACCOUNT/CONTAINER/PREFIX "
                   "(or $MODELPORT_STATE).")
@click.version_option(package_name="modelport")
@click.pass_context
def main(ctx: click.Context, state: str | None) -> None:
    """Build one container image for a model and deploy it to any cloud.

    Exit codes: 0 success, 1 operation failed (rolled back), 2 bad input, 3 locked by another
    live process, 4 an unfinished operation needs resume/abort, 10 plan --detailed-exitcode:
    changes pending.
    """
    ctx.ensure_object(dict)["state"] = state


@command(main, "validate")
@PATH
def validate_cmd(session: Session, path: Path | None):
    """Check modelport.toml and every target (no cloud call)."""
    loaded = api.validate(path, session)
    spec = loaded.spec
    return ({"valid": True, "file": str(loaded.file), "deployment": spec.deployment,
             "targets": {k: v.provider for k, v in spec.targets.items()}},
            f"{loaded.file}: valid ({spec.deployment} {spec.model.version}, targets: "
            f"{', '.join(f'{k} ({v.provider})' for k, v in spec.targets.items()) or 'none'})")


@command(main, "build")
@PATH
def build_cmd(session: Session, path: Path | None):
    """Build the model image; prints its reference and digest."""
    result = api.build(path, session)
    return result.to_dict(), f"built {result.ref}\n  digest {result.digest}\n  image id {result.image_id}"


STRATEGY = click.option("--strategy", type=click.Choice(["all-at-once", "blue-green", "canary"]),
                        help="Rollout strategy (default: rollout.strategy in the spec).")
STEPS = click.option("--steps", help="Canary traffic steps in percent, e.g. 10,50,100.")
GATE = click.option("--gate-timeout", type=click.FloatRange(min=1, max=3600), callback=finite_seconds,
                    help="Seconds a health gate waits (1-3600).")
BREAK_LOCK = click.option("--break-lock", is_flag=True,
                          help="Break the deployment's lock if its holder is gone: its lease expired (no heartbeat "
                               "for $MODELPORT_LOCK_TTL s, default 60) or its process died on this host. "
                               "A live holder's lock is never broken.")


TIMINGS = click.option("--timings", "timings", is_flag=True,
                       help="Print each phase's duration (build, export, push/copy, create, ready, gates, "
                            "traffic) and each step's; --output json carries them as \"timings\".")


def _timed(session: Session, on: bool):
    """A :class:`~modelport.engine.timings.Timings` collecting ``session``'s events, if asked for."""
    if not on:
        return None
    from .engine.timings import Timings

    return Timings.attach(session)


def _outcome(result, verb: str, timings) -> tuple[dict, str]:
    """The command's JSON data and text, with the timings when collected."""
    data, text = result.to_dict(), _result_text(result, verb)
    if timings is not None:
        data["timings"] = timings.to_dict()
        text += "\n" + timings.text()
    return data, text


def _result_text(result, verb: str) -> str:
    lines = []  # the steps were reported as they ran; `plan` shows the full diff
    if result.status == "unchanged":
        lines.append(f"{verb} {result.plan.deployment}: nothing to do (everything is as the spec says)")
    else:
        lines.append(f"{verb} {result.plan.deployment}: {result.status} ({len(result.plan.changes)} change(s), "
                     f"operation #{result.operation})")
    lines += [f"note: {n}" for n in result.plan.notes]
    if result.endpoint:
        lines.append(f"endpoint: {result.endpoint}  revision: {result.revision}")
    return "\n".join(lines)


@command(main, "deploy")
@PATH
@TO
@STRATEGY
@GATE
@BREAK_LOCK
@WAIT_LOCK
@click.option("--image", metavar="DIGEST", help="Deploy this image (sha256:...) instead of building: one a target "
                                                "of this deployment ran, or one in the local image store.")
@TIMINGS
def deploy_cmd(session: Session, path, target, strategy, gate_timeout, break_lock, image, timings):
    """Build and deploy to a target, executing exactly the plan."""
    preflight(session, path, target, strategy)
    timed = _timed(session, timings)
    result = api.deploy(path, target, strategy=strategy, gate_timeout=gate_timeout, break_lock=break_lock,
                        image=image, session=session)
    return _outcome(result, "deploy", timed)


@command(main, "swap")
@PATH
@TO
@STRATEGY
@STEPS
@GATE
@BREAK_LOCK
@WAIT_LOCK
@TIMINGS
def swap_cmd(session: Session, path, target, strategy, steps, gate_timeout, break_lock, timings):
    """Swap in a new model version with health-gated traffic moves."""
    steps = parse_steps(steps)
    loaded = api.validate(path, session)
    preflight(session, path, target, strategy)
    timed = _timed(session, timings)
    result = api.swap(path, target, strategy=strategy or loaded.spec.rollout.strategy, steps=steps,
                      gate_timeout=gate_timeout, break_lock=break_lock, session=session)
    return _outcome(result, "swap", timed)


@command(main, "evaluate")
@PATH
@TO
@click.option("--revision", help="Revision to evaluate (default: the one serving).")
@click.option("--against", metavar="TARGET", help="Also run the set on TARGET, serving the same image, and report "
                                                  "the largest output difference between the two.")
def evaluate_cmd(session: Session, path, target, revision, against):
    """Run [validation] dataset through a deployed revision: accuracy, agreement, latency."""
    from .api_evaluate import table

    result = api.evaluate(path, target, revision=revision, against=against, session=session)
    return result, table(result), (0 if result["passed"] else EXIT_FAILED)


@command(main, "rollback")
@click.argument("name")
@TO
@click.option("--revision", help="Revision to return to (default: the previous one).")
@click.option("--spec", type=click.Path(path_type=Path), help="modelport.toml (default: the one last deployed).")
@GATE
@WAIT_LOCK
def rollback_cmd(session: Session, name, target, revision, spec, gate_timeout):
    """Return traffic to the previous (or named) revision."""
    result = api.rollback(name, target, revision=revision, spec=spec, gate_timeout=gate_timeout, session=session)
    return result.to_dict(), _result_text(result, "rollback")


@command(main, "migrate")
@click.argument("name")
@click.option("--from", "source", required=True, help="Target the deployment serves on now.")
@TO
@click.option("--retire-source", is_flag=True, help="Delete it on the source once the destination is verified.")
@click.option("--spec", type=click.Path(path_type=Path), help="modelport.toml (default: the one last deployed).")
@GATE
@BREAK_LOCK
@WAIT_LOCK
@TIMINGS
def migrate_cmd(session: Session, name, source, target, retire_source, spec, gate_timeout, break_lock, timings):
    """Move a deployment to another target: same image digest, verified outputs."""
    timed = _timed(session, timings)
    result = api.migrate(name, source, target, retire_source=retire_source, spec=spec, gate_timeout=gate_timeout,
                         break_lock=break_lock, session=session)
    return _outcome(result, "migrate", timed)


@command(main, "status")
@click.argument("name", required=False)
@click.option("--to", "target", help="Only this target.")
@click.option("--spec", type=click.Path(path_type=Path), help="modelport.toml (default: the one last deployed).")
def status_cmd(session: Session, name, target, spec):
    """What each deployment runs now, as its cloud reports it."""
    rows = api.status(name, target, spec=spec, session=session)
    if not rows:
        return {"deployments": []}, "no deployments"
    lines = []
    for r in rows:
        lines.append(f"{r['name']} on {r['target']} ({r['provider']}): {r['endpoint'] or 'no endpoint'}")
        for rev in r["revisions"]:
            pct = r["traffic"].get(rev["name"], 0)
            lines.append(f"  {rev['name']:<6} {pct:>3}%  {'ready' if rev['ready'] else 'not ready':<9} "
                         f"{rev['digest'][:19]}  {rev.get('model_version') or ''}")
        lines += [f"  drift: {d}" for d in r["drift"]]
    unfinished = [r["unfinished"] for r in rows if r.get("unfinished")]
    if unfinished:  # a script must not take this for a healthy deployment: say it, exit 1
        text = "\n".join(lines)
        as_json = click.get_current_context().params.get("output") == "json"
        click.echo(json.dumps({"deployments": rows}, indent=2, default=str) if as_json else text)
        for u in {u["id"]: u for u in unfinished}.values():
            _err(f"error: {u['message']} ({u['hint']})")
        sys.exit(EXIT_UNFINISHED)
    return {"deployments": rows}, "\n".join(lines)


@command(main, "predict")
@click.argument("name")
@TO
@click.option("--input", "input_", required=True, type=click.File("r"), help="OIP v2 infer request JSON file, or - for stdin.")
def predict_cmd(session: Session, name, target, input_):
    """Send an inference request to a deployment."""
    try:
        body = json.load(input_)
    except ValueError as exc:
        raise UsageError(f"--input: not JSON ({exc})") from None
    reply = api.predict(name, target, body, session=session)
    return reply, json.dumps(reply.get("outputs", reply), indent=2)


def _ts(ts: float) -> str:
    import datetime as dt
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@command(main, "logs")
@click.argument("name")
@TO
@click.option("--revision")
@click.option("--tail", type=click.IntRange(1, 10000), default=100)
def logs_cmd(session: Session, name, target, revision, tail):
    """Recent log lines of a deployment."""
    text = api.logs(name, target, revision=revision, tail=tail, session=session)
    return {"logs": text}, text


@command(main, "destroy")
@click.argument("name")
@TO
@click.option("--spec", type=click.Path(path_type=Path), help="modelport.toml (default: the one last deployed).")
@WAIT_LOCK
def destroy_cmd(session: Session, name, target, spec):
    """Delete a deployment and everything it created on a target."""
    result = api.destroy(name, target, spec=spec, session=session)
    return result.to_dict(), _result_text(result, "destroy")


@command(main, "resume")
@click.argument("name")
@WAIT_LOCK
def resume_cmd(session: Session, name):
    """Finish an operation that was interrupted."""
    result = api.resume(name, session)
    return result.to_dict(), _result_text(result, "resume")


@command(main, "abort")
@click.argument("name")
@WAIT_LOCK
def abort_cmd(session: Session, name):
    """Roll back an operation that was interrupted."""
    result = api.abort(name, session)
    return result.to_dict(), f"operation #{result.operation} aborted and rolled back"


@main.command("push")
@PATH
@TO
@OUTPUT
@click.pass_context
def push_cmd(ctx, path, target, output):
    """Push the built image to the target's registry by digest."""
    _run_transfer(ctx, output, f"push to {target}", lambda s, bar: api.push(path, target, progress=bar, session=s))


main.add_command(copy_cmd)


def _run_transfer(ctx, output, title, fn):
    # reuse the error/exit-code/JSON handling of `command` for a body that draws a progress bar
    @command(None, "transfer")
    def run(session):
        with _bar(output, title) as bar:
            result = fn(session, bar)
        return result.to_dict(), _transfer_text(result)

    ctx.invoke(run, output=output)


@command(main, "gc")
@PATH
@click.option("--to", "target", help="Only this target (default: every target of the spec).")
@click.option("--delete", is_flag=True, help="Delete what is found (default: only list it).")
def gc_cmd(session: Session, path, target, delete):
    """List (or delete) tagged cloud resources that no recorded deployment owns."""
    rows = api.gc(path, target, delete=delete, session=session)
    if not rows:
        return {"orphans": []}, "no orphaned resources"
    lines = [f"{'deleted' if r['deleted'] else 'orphan '} {r['target']:<10} {r['kind']:<14} {r['id']}"
             f"  (deployment {r['deployment']}, revision {r['revision']})" for r in rows]
    return {"orphans": rows}, "\n".join(lines)


@command(main, "providers")
@click.option("--strict", is_flag=True, help="Exit 1 when a plugin failed to load (naming its distribution).")
def providers_cmd(session: Session, strict: bool):
    """Installed providers and their capabilities."""
    data = api.providers(session)
    if strict and data["problems"]:
        raise ModelportError(f"{len(data['problems'])} plugin(s) failed to load: " + "; ".join(
            f"plugin {p['plugin']!r} (distribution {p['distribution'] or 'unknown'}): {p['message']}"
            for p in data["problems"]), hint="reinstall or uninstall the distribution named")
    lines = []
    for p in data["providers"]:
        caps = p["capabilities"]
        lines.append(f"{p['name']:<8} {p['description']}")
        lines.append(f"         traffic split: {'yes' if caps['traffic_split'] else 'no'}, gpu: "
                     f"{'yes' if caps['gpu'] else 'no'}, registry: {'yes' if caps['needs_registry'] else 'no'}"
                     + (f" — {caps['notes']}" if caps["notes"] else ""))
    lines += [f"BROKEN   {p['plugin']}: {p['message']}" for p in data["problems"]]
    return data, "\n".join(lines)


@command(main, "new-provider")
@click.argument("name")
@click.option("--path", "parent", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              help="Folder to write modelport-NAME/ in (default: the current one).")
def new_provider_cmd(session: Session, name: str, parent: Path):
    """Write a provider package to start from (entry point, settings, skeleton, conformance tests)."""
    from .scaffold import write_package

    folder = write_package(name, parent)
    return ({"name": name, "path": str(folder)},
            f"wrote {folder}\n  pip install -e '{folder}[test]' && (cd {folder} && pytest -m conformance_pure)")


@command(main, "schema")
def schema_cmd(session: Session):
    """Print the JSON Schema of modelport.toml."""
    data = api.schema(session)
    return data, json.dumps(data, indent=2)


from . import cli_state  # noqa: E402,F401  (registers `modelport state`; it uses `command` above)
from . import cli_release  # noqa: E402,F401  (registers `modelport plan`, `promote` and `history`)
