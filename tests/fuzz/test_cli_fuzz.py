"""Hostile command lines: unknown options, wrong types and out-of-range numbers, missing arguments,
unicode and path separators in names. Always exit 2 (bad input) or, for a harmless name, 0; never a
traceback, never 1, never a network call; with ``--output json`` one JSON error document on stdout.

Every example gets its own state file. Arguments never hold NUL (no real argv can); they may hold
the lone surrogates Python makes of argv bytes that are not UTF-8.
"""

from __future__ import annotations

import itertools
import math
import shutil

import click
import pytest
from hypothesis import HealthCheck, event, example, given, settings, strategies as st

from modelport.cli import main

from .fuzz_helpers import (Outcome, assert_clean_usage_error, base_spec, fresh_project, isolated_env, run_cli,
                           scratch_dir, to_toml, tripwire)

FUZZ = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
COMMANDS = main.list_commands(click.Context(main))  # the built-in ones and those plugins add


def command_of(name: str) -> click.Command:
    return main.get_command(click.Context(main), name)


@pytest.fixture(scope="module")
def cli_env():
    """A valid project (deploying it would build: every bad-argument run must stop before that),
    a JSON request file, a working directory holding nothing, and the isolated environment."""
    wire = tripwire()
    with scratch_dir("mp-clifuzz-") as root, pytest.MonkeyPatch.context() as patch:
        project = fresh_project(root, "project")
        (project / "modelport.toml").write_text(to_toml(base_spec(wire.port)))
        request = root / "request.json"
        shutil.copy(project / "sample.json", request)
        cwd = root / "cwd"
        cwd.mkdir()
        isolated_env(patch, root, wire.port)
        patch.chdir(cwd)
        yield {"root": root, "project": str(project), "request": str(request), "counter": itertools.count()}


def skeleton(command: str, env: dict) -> list[str]:
    """A well-formed command line for ``command`` (on an empty state store)."""
    p, name = env["project"], "fuzz-iris"
    return {
        "validate": [p], "build": [p], "plan": [p, "--to", "dev"], "deploy": [p, "--to", "dev"],
        "swap": [p, "--to", "dev"], "rollback": [name, "--to", "dev"], "evaluate": [p, "--to", "dev"],
        "migrate": [name, "--from", "dev", "--to", "aws"], "promote": [name, "--from", "dev", "--to", "aws"],
        "status": [name], "history": [name],
        "predict": [name, "--to", "dev", "--input", env["request"]], "logs": [name, "--to", "dev"],
        "destroy": [name, "--to", "dev"], "resume": [name], "abort": [name], "push": [p, "--to", "dev"],
        "copy": ["127.0.0.1:1/a@sha256:" + "0" * 64, "127.0.0.1:1/b"], "gc": [p],
        "providers": [], "schema": [], "iam-policy": [p, "--to", "aws"],
        "state": ["import", p, "--to", "dev"],  # a group: its subcommand is the first piece
        "new-provider": ["fuzzprov", "--path", "scaffolds"],  # under the scratch working directory
    }[command]


def options_of(command: str) -> set[str]:
    out = {"--help", "-h"}
    for param in command_of(command).params:
        out.update(param.opts)
        out.update(param.secondary_opts)
    return out


def run(env: dict, argv: list[str]) -> Outcome:
    return run_cli(argv, env["root"] / f"state-{next(env['counter'])}.db")  # a fresh store per run


OUTPUT = st.sampled_from([[], ["--output", "json"], ["-o", "json"], ["--output=json"], ["-o", "text"]])
ARG_TEXT = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40),
    st.text(st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF), min_size=1, max_size=4),  # undecodable argv bytes
    st.sampled_from(["", " ", "-", "--", "../../etc/passwd", "/", "a/b", "a\\b", "\u202etegrat", "ｄｅｖ", "dev\n",
                     "$(id)", "%n%n", "*", "..", "~root"]),
    st.integers(300, 100_000).map(lambda n: "x" * n),                            # longer than any file name
)


def assert_bad_input(out: Outcome) -> None:
    assert_clean_usage_error(out)


# -- 1. unknown options ----------------------------------------------------------------------------------

UNKNOWN = st.one_of(st.from_regex(r"--[a-z][a-z0-9-]{0,20}(=[a-z0-9]{0,5})?", fullmatch=True),
                    st.from_regex(r"-[a-zA-Z]", fullmatch=True),
                    st.text(min_size=1, max_size=10).map(lambda t: "--" + t.replace("\x00", "")))


@FUZZ
@given(command=st.sampled_from(COMMANDS), option=UNKNOWN, at_end=st.booleans(), output=OUTPUT)
@example(command="deploy", option="--weights", at_end=True, output=["--output", "json"])
@example(command="plan", option="--steps-x", at_end=False, output=["-o", "json"])
def test_unknown_option_is_exit_2(cli_env, command, option, at_end, output):
    name = option.split("=", 1)[0]
    if name in options_of(command) or name.startswith("-o") and len(name) == 2 or option == "--":
        event("skipped: a known option")
        return
    args = skeleton(command, cli_env)
    args = [command, *output, *args, option] if at_end else [command, option, *output, *args]
    assert_bad_input(run(cli_env, args))


# -- 2. numbers of the wrong type or out of range ----------------------------------------------------------

def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def gate_ok(text: str) -> bool:
    value = _float(text)
    return value is not None and math.isfinite(value) and 1 <= value <= 3600


def tail_ok(text: str) -> bool:
    value = _int(text)
    return value is not None and 1 <= value <= 10000


def steps_ok(text: str) -> bool:
    parts = [_int(v) for v in text.split(",")]
    return (bool(text) and None not in parts and len(parts) <= 20 and parts == sorted(set(parts))
            and parts[0] >= 1 and parts[-1] == 100)


NUMBERISH = st.one_of(
    st.text(max_size=12).map(lambda t: t.replace("\x00", "")),
    st.integers(-(10 ** 30), 10 ** 30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e309", "0", "-1", "0.5", "3601", "1" * 400, "0x10", "1_0",
                     "١٢", "", " ", "1,2", "10,50", "100,10", "0,100", "10,10,100", "10,,100", ",100", "101",
                     ",".join(str(i) for i in range(80, 101)), "10, 50, 100", "abc", "5s", "true"]),
)
NUMERIC = [("logs", "--tail", tail_ok), ("deploy", "--gate-timeout", gate_ok), ("swap", "--gate-timeout", gate_ok),
           ("rollback", "--gate-timeout", gate_ok), ("migrate", "--gate-timeout", gate_ok),
           ("plan", "--steps", steps_ok), ("swap", "--steps", steps_ok)]


@FUZZ
@given(which=st.sampled_from(NUMERIC), value=NUMBERISH, output=OUTPUT)
@example(which=NUMERIC[1], value="nan", output=["-o", "json"])           # FloatRange lets nan through
@example(which=NUMERIC[1], value="1e308", output=[])                     # 3 million years of health gate
@example(which=NUMERIC[5], value="50,10", output=["-o", "json"])         # was refused only after a build
@example(which=NUMERIC[5], value="0,100", output=[])
@example(which=NUMERIC[6], value="10,50", output=[])
@example(which=NUMERIC[5], value="", output=[])                          # was taken for "not given"
def test_numeric_option_out_of_range_is_exit_2_before_any_build(cli_env, which, value, output):
    command, option, valid = which
    if valid(value):
        event("skipped: a valid value")
        return
    event(f"{command} {option}")
    args = [command, *output, *skeleton(command, cli_env), option, value]
    assert_bad_input(run(cli_env, args))


CHOICES = [("plan", "--strategy"), ("deploy", "--strategy"), ("swap", "--strategy"), ("status", "--output"),
           ("validate", "-o")]


@FUZZ
@given(which=st.sampled_from(CHOICES), value=ARG_TEXT)
def test_unknown_choice_is_exit_2(cli_env, which, value):
    command, option = which
    if value in ("all-at-once", "blue-green", "canary", "text", "json"):
        return
    assert_bad_input(run(cli_env, [command, *skeleton(command, cli_env), option, value]))


# -- 3. missing arguments --------------------------------------------------------------------------------

def _droppable(command: str, env: dict) -> list[list[str]]:
    """The command line with one required piece removed (each way), or an option left without value."""
    full = skeleton(command, env)
    out = []
    for index, token in enumerate(full):
        if token.startswith("--"):
            out.append(full[:index] + full[index + 2:])      # the option and its value
            out.append(full[:index + 1])                      # the option without its value, at the end
        elif index == 0 or not full[index - 1].startswith("--"):
            out.append(full[:index] + full[index + 1:])       # a positional argument
    return out


MISSING = [(c, i) for c in COMMANDS for i in range(len(_droppable(c, {"project": "P", "request": "R"})))]


def _required_gone(command: str, argv: list[str]) -> bool:
    """Whether ``argv`` lacks something ``command`` requires (from click's own declaration)."""
    params = command_of(command).params
    positional = [p for p in params if isinstance(p, click.Argument) and p.required]
    given_positionals = [a for i, a in enumerate(argv) if not a.startswith("--") and (i == 0 or not argv[i - 1].startswith("--"))]
    missing_option = any(isinstance(p, click.Option) and p.required and not (set(p.opts) & set(argv)) for p in params)
    dangling = bool(argv) and argv[-1].startswith("--") and argv[-1] not in ("--break-lock", "--retire-source", "--delete")
    return missing_option or dangling or len(given_positionals) < len(positional)


@FUZZ
@given(which=st.sampled_from(MISSING), output=OUTPUT)
def test_missing_required_argument_is_exit_2(cli_env, which, output):
    command, index = which
    argv = _droppable(command, cli_env)[index]
    if not _required_gone(command, argv):
        event("skipped: nothing required is missing")
        return
    assert_bad_input(run(cli_env, [command, *output, *argv]))


# -- 4. names and paths with separators, unicode, control characters, huge --------------------------------

NAMED = ["rollback", "migrate", "status", "history", "logs", "destroy", "resume", "abort", "predict"]


@FUZZ
@given(command=st.sampled_from(NAMED), name=ARG_TEXT, target=ARG_TEXT, output=OUTPUT)
@example(command="destroy", name="../../etc", target="dev/../aws", output=["-o", "json"])
@example(command="logs", name="\udcff\udcfe", target="dev", output=[])
def test_hostile_names_are_not_found_exit_2(cli_env, command, name, target, output):
    argv = skeleton(command, cli_env)
    argv[0] = name
    if "--to" in argv:
        argv[argv.index("--to") + 1] = target
    if name.startswith("-") or target.startswith("-"):
        event("option-like name: click decides")
    out = run(cli_env, [command, *output, *argv])
    if out.code == 0 and command == "status" and name in ("", "--"):  # "--" ends options: no name either
        event("status with an empty name lists every deployment (none)")
        return
    assert_bad_input(out)


PATHED = ["validate", "build", "plan", "deploy", "swap", "push", "gc", "iam-policy", "evaluate"]


@FUZZ
@given(command=st.sampled_from(PATHED), path=ARG_TEXT, output=OUTPUT)
@example(command="deploy", path="/etc", output=["-o", "json"])
@example(command="build", path="/etc/passwd", output=[])
@example(command="plan", path="x" * 10_000, output=[])
def test_hostile_spec_paths_are_exit_2(cli_env, command, path, output):
    if path.startswith("-") or not path.strip() or path in (".", "./"):
        return  # an option, or the empty working directory: other tests
    argv = skeleton(command, cli_env)
    argv[0] = path
    assert_bad_input(run(cli_env, [command, *output, *argv]))


def _stays_in_cwd(path: str) -> bool:
    # a state path that works is created: only relative ones that stay in the scratch folder
    return not path.startswith(("-", "/", "~")) and ".." not in path


UNUSABLE_STATES = st.sampled_from(["/etc", "/proc/nonexistent/state.db", "/dev/null/state.db", "/proc/self/cwd",
                                   "/sys/state.db", "/", ""])


@FUZZ
@given(state=st.one_of(ARG_TEXT.filter(_stays_in_cwd), UNUSABLE_STATES),
       command=st.sampled_from(["status", "history", "resume"]), output=OUTPUT)
@example(state="/etc", command="status", output=["-o", "json"])
@example(state="/proc/nonexistent/state.db", command="status", output=[])
@example(state="/dev/null/state.db", command="history", output=[])
def test_hostile_state_path_is_exit_2_or_works(cli_env, state, command, output):
    from click.testing import CliRunner

    args = ["--state", state, command, *output, *(["fuzz-iris"] if command != "status" else [])]
    wire = tripwire()
    wire.reset()
    wire.armed = True
    try:
        result = CliRunner().invoke(main, args)
    finally:
        wire.armed = False
    out = Outcome(args, result.exit_code, result.stdout, result.stderr,
                  None if isinstance(result.exception, SystemExit) else result.exception, wire.calls())
    assert out.exception is None and out.code in (0, 2) and not out.calls, str(out)
    assert "Traceback" not in out.stdout + out.stderr, str(out)
    if out.code == 2:
        assert_clean_usage_error(out)
