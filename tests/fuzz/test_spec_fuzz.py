"""Broken and hostile ``modelport.toml`` files through the real CLI: exit 2, the field named, no
traceback, no network (clouds, metadata servers, Docker).

Every example starts from a valid project (examples/iris with one target per provider, each aimed
at the tripwire's decoy listener) and mutates it. A mutation that happens to stay valid is allowed
only where ``modelport.api.validate`` accepts it too, and then only ``validate`` runs (exit 0);
plan and deploy are tried on invalid specs only, and must fail before building or calling out.
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings, strategies as st

from modelport import api
from modelport.errors import ModelportError
from modelport.spec import NAME_RE

from .fuzz_helpers import (SECRET_ENV, Outcome, assert_clean_usage_error, base_spec, fresh_project, isolated_env,
                           names_field, run_cli, scratch_dir, to_toml, tripwire, with_path,
                           without_path)

FUZZ = settings(max_examples=100, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TARGETS = ("dev", "aws", "gcp", "azure")
# endpoints stay on the decoy: a mutation must never aim a valid spec at a real cloud
FIXED = {("targets", "aws", "endpoint_url"), ("targets", "gcp", "api_endpoint"), ("targets", "azure", "base_url"),
         ("targets", "dev", "docker_host"), ("targets", "gcp", "credentials"), ("targets", "azure", "token_env"),
         ("targets", "azure", "registry")}


@pytest.fixture(scope="module")
def workspace():
    """A folder for the projects, the environment locked away from clouds and Docker, the tripwire."""
    wire = tripwire()
    with scratch_dir("mp-specfuzz-") as root, pytest.MonkeyPatch.context() as patch:
        isolated_env(patch, root, wire.port)
        yield {"root": root, "counter": itertools.count(), "base": base_spec(wire.port)}


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*prefix, key))
            out.extend(_paths(value, (*prefix, key)))
    return [p for p in out if p not in FIXED]


def _accepted(path: tuple) -> tuple[str, ...]:
    """The fields an error about ``path`` may name: the path or a parent (targets.X at least);
    a size is judged as a whole, so any resources.* field answers a resources mutation."""
    least = min(2, len(path)) if path[0] == "targets" else 1
    return tuple(".".join(path[:n]) for n in range(len(path), least - 1, -1))


def _target_of(path: tuple) -> str:
    """The target to plan/deploy: the mutated one, else aws."""
    return path[1] if len(path) > 1 and path[0] == "targets" else "aws"


# -- hostile values -----------------------------------------------------------------------------------

HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x3000), min_size=1, max_size=12),
    st.sampled_from(["", " ", "\u202eevil", "ＩＲＩＳ", "iris\n", "\x00", "a" * 5000, "../../etc/passwd", "/etc/passwd",
                     "C:\\Windows", "${HOME}", "$(reboot)", "'; DROP TABLE deployments; --", "%s%n", "\ufeffiris"]),
)
HOSTILE = st.one_of(
    HOSTILE_TEXT,
    st.integers(min_value=-(2 ** 80), max_value=2 ** 80),
    st.sampled_from([0, -1, 2 ** 31, 2 ** 63, -(2 ** 63) - 1, 10 ** 30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0, 1e-300, 1e300]),
    st.booleans(),
    st.lists(st.one_of(st.integers(-5, 200), st.text(max_size=4), st.floats()), max_size=4),
    st.dictionaries(st.text(max_size=6), st.one_of(st.integers(), st.text(max_size=4)), max_size=3),
    st.dates(), st.datetimes(), st.times(),
)


def _check(workspace: dict, data: dict | None, raw: bytes | None, accepted: tuple[str, ...], target: str,
           setup=None, must_fail=None) -> None:
    """Write the spec, run validate/plan/deploy, and judge every answer. ``must_fail(project)``, when
    given, says (independently of modelport) that the spec cannot be valid."""
    project = fresh_project(workspace["root"], f"p{next(workspace['counter'])}")
    if setup is not None:
        setup(project)
    if must_fail is not None and must_fail(project):
        event("must fail (independent check)")
    file = project / "modelport.toml"
    file.write_bytes(raw if raw is not None else to_toml(data).encode("utf-8"))
    state = workspace["root"] / "state.db"  # one store: no example gets far enough to write to it
    first = run_cli(["validate", str(project), "--output", "json"], state)
    if first.code == 0:
        assert must_fail is None or not must_fail(project), f"accepted a spec that cannot be valid\n{first}"
        _assert_really_valid(first, project)
        event("mutation stayed valid (validate exit 0, API agrees)")
        return
    event("invalid: validate, plan and deploy exit 2")
    runs = [first, run_cli(["validate", str(project)], state),
            run_cli(["plan", str(project), "--to", target, "--output", "json"], state),
            run_cli(["plan", str(project), "--to", target], state),
            run_cli(["deploy", str(project), "--to", target, "--output", "json"], state),
            run_cli(["deploy", str(project), "--to", target], state)]
    for out in runs:
        assert_clean_usage_error(out)
        assert names_field(out, accepted, file), f"expected one of {accepted} named\n{out}"


def _assert_really_valid(out: Outcome, project: Path) -> None:
    assert out.exception is None and not out.calls, str(out)
    try:
        api.validate(project)
    except ModelportError as exc:  # the CLI said valid, the API disagrees
        raise AssertionError(f"validate exit 0 but the API says: {exc}\n{out}") from None


# -- 1. wrong types, huge numbers, NaN, unicode, anywhere ---------------------------------------------

PATHS = _paths(base_spec(0))


@FUZZ
@given(path=st.sampled_from(PATHS), value=HOSTILE)
@example(path=("resources", "cpu"), value=float("nan"))
@example(path=("resources", "memory"), value=1e300)
@example(path=("model", "version"), value=float("inf"))
@example(path=("scaling", "max_instances"), value=2 ** 80)
@example(path=("targets", "gcp", "request_timeout_s"), value=-1)
@example(path=("targets", "azure", "subscription_id"), value="\u202e0000")
@example(path=("model", "path"), value="\x00")
@example(path=("model", "path"), value="a" * 5000)
def test_any_field_replaced_by_a_hostile_value(workspace, path, value):
    _check(workspace, with_path(workspace["base"], path, value), None, _accepted(path), _target_of(path))


# -- 2. unknown keys, missing keys, whole sections of the wrong type ------------------------------------

def _get(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


TABLES = [(), *(p for p in PATHS if isinstance(_get(base_spec(0), p), dict) and p not in (("env",), ("secrets",)))]
KEYS = st.one_of(st.text(min_size=1, max_size=20), st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
                 st.sampled_from(["Name", "cpus", "memroy", "provider ", "model.path", "\u202e", "__class__", "0"]))


@FUZZ
@given(table=st.sampled_from(TABLES), key=KEYS, value=HOSTILE)
@example(table=("resources",), key="cpus", value=2)
@example(table=("targets", "gcp"), key="regoin", value="us-central1")
@example(table=(), key="__class__", value={})
def test_unknown_key_is_named(workspace, table, key, value):
    base = workspace["base"]
    known = _get(base, table)
    assume(key not in known and key.strip() not in known)  # a known key is the other tests' job
    _check(workspace, with_path(base, (*table, key), value), None, _accepted((*table, key)), _target_of((*table, key)))


@FUZZ
@given(path=st.sampled_from(PATHS))
@example(path=("model",))
@example(path=("targets", "azure", "subscription_id"))
def test_missing_key_is_named(workspace, path):
    _check(workspace, without_path(workspace["base"], path), None, _accepted(path), _target_of(path))


# -- 3. names a cloud refuses ----------------------------------------------------------------------------

def _bad_name(name: str) -> bool:
    return re.fullmatch(NAME_RE, name.strip()) is None


CLOUD_NAMES = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{40,80}", fullmatch=True),      # longer than Cloud Run's 49 / ACI's 63
    st.from_regex(r"[A-Z][A-Za-z0-9-]{1,20}", fullmatch=True),    # uppercase
    st.from_regex(r"[0-9][a-z0-9-]{1,20}", fullmatch=True),       # leading digit
    st.from_regex(r"[a-z][a-z0-9]{0,8}_[a-z0-9_]{1,8}", fullmatch=True),  # underscores
    st.from_regex(r"[a-z][a-z0-9-]{0,10}-", fullmatch=True),      # trailing hyphen
    st.from_regex(r"[a-z]{1,5}[.:/\\ ][a-z]{1,5}", fullmatch=True),  # separators
    st.text(min_size=1, max_size=30),                             # any unicode, control chars, RTL
    st.sampled_from(["", "a", "-", "ïris", "irіs", "iris\u202e", "x" * 41, "x" * 64, "goog-model", "\u0000"]),
).filter(_bad_name)
NAME_FIELDS = [("name",), ("model", "name")]


@FUZZ
@given(path=st.sampled_from(NAME_FIELDS), name=CLOUD_NAMES)
@example(path=("name",), name="a" * 49)
@example(path=("name",), name="a" * 64)
@example(path=("model", "name"), name="Iris")
@example(path=("name",), name="1iris")
@example(path=("name",), name="my_model")
def test_deployment_name_invalid_in_some_cloud(workspace, path, name):
    _check(workspace, with_path(workspace["base"], path, name), None, _accepted(path), "gcp")


PROVIDER_NAMES = [(("targets", "azure", "dns_label_prefix"), r"^[a-z][a-z0-9-]{0,50}$"),
                  (("targets", "aws", "name_prefix"), r"^[a-z][a-z0-9]{0,5}$"),
                  (("targets", "gcp", "project"), r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"),
                  (("targets", "gcp", "repository"), r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"),
                  (("targets", "gcp", "region"), r"^[a-z]+-[a-z]+[0-9]+$"),
                  (("targets", "azure", "location"), r"^[a-z0-9]+$")]


@FUZZ
@given(which=st.sampled_from(PROVIDER_NAMES), name=st.one_of(CLOUD_NAMES, st.text(max_size=70)))
@example(which=PROVIDER_NAMES[0], name="a" * 52)
@example(which=PROVIDER_NAMES[1], name="prefix")
def test_provider_resource_names_checked_before_any_call(workspace, which, name):
    path, pattern = which
    assume(not re.fullmatch(pattern, name))  # a name the cloud accepts
    _check(workspace, with_path(workspace["base"], path, name), None, _accepted(path), path[1])


TARGET_KEYS = st.one_of(CLOUD_NAMES, st.from_regex(r"[a-z][a-z0-9_-]{63,70}", fullmatch=True)).filter(
    lambda key: not re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", key))


@FUZZ
@given(key=TARGET_KEYS)
@example(key="Prod")
@example(key="1st")
@example(key="a" * 64)
def test_target_name_invalid(workspace, key):
    data = with_path(workspace["base"], ("targets", key), {"provider": "local"})
    _check(workspace, data, None, (f"targets.{key}",), key)


# -- 4. paths that leave the project, do not exist, loop, or cannot exist ---------------------------------

def _symlink_out(project: Path) -> None:
    (project / "escape.joblib").symlink_to("/etc/hostname")
    (project / "escape.json").symlink_to("/etc/hostname")


def _symlink_loop(project: Path) -> None:
    (project / "loop").symlink_to("loop")
    (project / "a").symlink_to("b")
    (project / "b").symlink_to("a")


def _folder(project: Path) -> None:
    (project / "folder").mkdir()
    (project / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (project / "notjson.json").write_bytes(b"\xff\xfe\x00garbage")
    (project / "list.json").write_text("[1, 2]")


SETUPS = {"none": None, "symlink out": _symlink_out, "symlink loop": _symlink_loop, "folder": _folder}
HOSTILE_PATHS = st.one_of(
    st.sampled_from(["../../etc/passwd", "/etc/passwd", "..", ".", "../", "~/model.joblib", "/", "//etc//hostname",
                     "model.joblib/../../..", "sub/../../model.joblib", "escape.joblib", "escape.json", "loop", "a",
                     "folder", "deep.json", "notjson.json", "list.json", "model.joblib\x00.json", "a" * 300,
                     "a/" * 2100, "\u202elmth.joblib", "nul\x00", "", "   ", "C:\\model.joblib", "\\\\server\\share",
                     "file:///etc/passwd", "model.joblib\n", "%2e%2e/%2e%2e/etc/passwd"]),
    st.text(max_size=30).map(lambda t: "../" * 3 + t),
    st.text(min_size=1, max_size=30),
)
PATH_FIELDS = [("model", "path"), ("serving", "sample_input"), ("model", "predict")]


@FUZZ
@given(path=st.sampled_from(PATH_FIELDS), value=HOSTILE_PATHS, setup=st.sampled_from(sorted(SETUPS)))
@example(path=("model", "path"), value="loop", setup="symlink loop")
@example(path=("model", "path"), value="escape.joblib", setup="symlink out")
@example(path=("serving", "sample_input"), value="deep.json", setup="folder")
@example(path=("serving", "sample_input"), value="a/" * 2100, setup="none")
@example(path=("model", "predict"), value="../../etc/passwd", setup="none")
@example(path=("serving", "sample_input"), value=" ", setup="none")
def test_path_traversal_and_impossible_paths(workspace, path, value, setup):
    data = with_path(workspace["base"], path, value)
    if path == ("model", "predict"):
        data["model"]["framework"] = "custom"

    def must_fail(project: Path) -> bool:
        found = _inside(project, value)
        if path == ("serving", "sample_input"):
            return found != project / "sample.json"  # the one OIP request body in the project
        return found is None or (path != ("model", "path") and not found.is_file())

    _check(workspace, data, None, _accepted(path) if path != ("model", "predict") else ("model",), "aws",
           SETUPS[setup], must_fail)


def _inside(project: Path, value: str) -> Path | None:
    """Where ``value`` leads when it stays inside ``project`` and exists there (os.path, not modelport)."""
    value = value.strip()
    if not value or "\x00" in value or os.path.isabs(value):
        return None
    try:
        real = Path(os.path.realpath(os.path.join(project, value), strict=True))
    except (OSError, ValueError):
        return None
    return real if real == project or project in real.parents else None


@FUZZ
@given(value=HOSTILE_PATHS, setup=st.sampled_from(sorted(SETUPS)))
@example(value="../../nonexistent/token", setup="none")
@example(value="a" * 5000, setup="none")
@example(value="loop", setup="symlink loop")
def test_file_secret_reference_checked_before_any_call(workspace, value, setup):
    data = with_path(workspace["base"], ("secrets", "API_TOKEN"), f"file:{value}")

    def must_fail(project: Path) -> bool:  # the file must be there to be read at deploy time
        name = value.strip()
        try:
            return "\x00" in name or not name or not os.path.isfile(os.path.join(project, name))
        except (OSError, ValueError):
            return True

    _check(workspace, data, None, ("secrets.API_TOKEN", "secrets"), "aws", SETUPS[setup], must_fail)


# -- 5. sizes no cloud (or not every cloud) runs -----------------------------------------------------------

@FUZZ
@given(cpu=st.one_of(st.sampled_from([0.01, 0.08, 0.1, 0.25, 0.3, 0.5, 1, 1.5, 2, 3, 4, 6, 7, 8, 16, 64, 192, 193]),
                     st.floats(-1, 300)),
       memory=st.one_of(st.sampled_from(["64Mi", "128Mi", "1Gi", "3Gi", "16Gi", "64Gi", "512Gi", "0Mi", "1.5Gi"]),
                        st.integers(-1, 3_000_000), st.from_regex(r"[0-9]{1,8}(Mi|Gi|M|G|MiB|GiB|Ki|Ti|)", fullmatch=True)),
       gpu=st.integers(-1, 20))
@example(cpu=0.3, memory="64Gi", gpu=0)
@example(cpu=16, memory="128Mi", gpu=4)
def test_sizes_a_cloud_cannot_run(workspace, cpu, memory, gpu):
    data = with_path(workspace["base"], ("resources",), {"cpu": cpu, "memory": memory, "gpu": gpu})
    _check(workspace, data, None, ("resources",), "gcp")


# -- 6. files that are not TOML, not UTF-8, empty, duplicated, nested without end -------------------------

def _valid_text(workspace) -> bytes:
    return to_toml(workspace["base"]).encode()


@st.composite
def broken_bytes(draw, valid: bytes):
    kind = draw(st.sampled_from(["truncate", "insert", "replace", "duplicate key", "duplicate table", "non-utf8",
                                 "constant", "deep", "random"]))
    lines = valid.splitlines(keepends=True)
    if kind == "truncate":
        return valid[:draw(st.integers(0, len(valid) - 1))]
    if kind == "insert":
        at = draw(st.integers(0, len(valid)))
        return valid[:at] + draw(st.binary(min_size=1, max_size=8)) + valid[at:]
    if kind == "replace":
        at = draw(st.integers(0, len(valid) - 1))
        return valid[:at] + draw(st.sampled_from([b"=", b"[", b"]", b'"', b"\n", b"{", b"#", b"\x00", b"\\"])) + valid[at + 1:]
    if kind == "duplicate key":
        index = draw(st.sampled_from([i for i, line in enumerate(lines) if b" = " in line]))
        return b"".join(lines[:index + 1] + [lines[index]] + lines[index + 1:])
    if kind == "duplicate table":
        return valid + b"\n[model]\nname = \"again\"\n"
    if kind == "non-utf8":
        at = draw(st.integers(0, len(valid)))
        return valid[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xfe\xff", b"\x80"])) + valid[at:]
    if kind == "constant":
        return draw(st.sampled_from([b"", b"\n", b"   \t\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf" + valid, b"\x00" * 10,
                                     b"[model", b"model = ", b"= 1", b"[[model]]\nname='x'", b"model = []",
                                     "[model]\nname = \"ｉｒｉｓ\"\n".encode()]))
    if kind == "deep":
        depth = draw(st.sampled_from([100, 2_000, 100_000]))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b"{a=", b"}")]))
        return valid + b"\nx = " + opener * depth + (b"1" if opener != b"[" else b"") + closer * depth + b"\n"
    return draw(st.binary(max_size=200))


@FUZZ
@given(data=st.data())
def test_broken_files_name_the_file(workspace, data):
    raw = data.draw(broken_bytes(_valid_text(workspace)))
    _check(workspace, None, raw, ("",), "aws")


# -- 7. a valid spec asking a target for what it cannot do: refused before building -------------------------

NATIVE_SECRETS = {"dev": (), "aws": ("aws-sm",), "gcp": ("gcp-sm",), "azure": ()}
SPLITS_TRAFFIC = {"dev": False, "aws": True, "gcp": True, "azure": False}


@FUZZ
@given(target=st.sampled_from(TARGETS), scheme=st.sampled_from(["env", "aws-sm", "gcp-sm", "azure-kv", "vault", "k8s"]),
       rest=st.from_regex(r"[A-Za-z0-9:/._-]{1,40}", fullmatch=True),
       strategy=st.sampled_from([None, "canary", "blue-green", "all-at-once"]), in_spec=st.booleans(),
       command=st.sampled_from(["plan", "deploy", "swap"]), output=st.sampled_from([[], ["--output", "json"]]))
@example(target="gcp", scheme="aws-sm", rest="arn:aws:secretsmanager:us-east-1:1:secret:x", strategy=None,
         in_spec=False, command="plan", output=[])
@example(target="azure", scheme="env", rest="X", strategy="canary", in_spec=False, command="deploy", output=[])
@example(target="dev", scheme="env", rest="X", strategy="canary", in_spec=True, command="swap", output=["--output", "json"])
def test_target_cannot_do_it_refused_before_building(workspace, target, scheme, rest, strategy, in_spec, command,
                                                     output):
    bad_secret = scheme != "env" and scheme not in NATIVE_SECRETS[target]
    bad_canary = strategy == "canary" and not SPLITS_TRAFFIC[target]
    assume(bad_secret or bad_canary)  # otherwise it would build: not bad input
    data = with_path(workspace["base"], ("secrets", "API_TOKEN"), f"{scheme}:{SECRET_ENV if scheme == 'env' else rest}")
    if in_spec and strategy:
        data["rollout"]["strategy"] = strategy
    project = fresh_project(workspace["root"], f"p{next(workspace['counter'])}")
    (project / "modelport.toml").write_text(to_toml(data))
    state = workspace["root"] / "state.db"
    assert run_cli(["validate", str(project)], state).code == 0  # the spec itself is fine
    args = [command, str(project), "--to", target, *output, *([] if in_spec or not strategy else ["--strategy", strategy])]
    out = run_cli(args, state)
    assert_clean_usage_error(out)
    said = out.stdout + out.stderr
    assert (bad_secret and "secrets.API_TOKEN" in said) or (bad_canary and "canary is refused" in said), str(out)
    event("secret scheme" if bad_secret else "canary")


# Cloud Run sets these itself (its container contract); modelport sets PORT from serving.port everywhere
RESERVED_ENV = {"dev": ("PORT",), "aws": ("PORT",), "gcp": ("PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"),
                "azure": ("PORT",)}


@FUZZ
@given(target=st.sampled_from(TARGETS), name=st.sampled_from(["PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"]),
       value=st.text(max_size=10), as_secret=st.booleans(), command=st.sampled_from(["validate", "plan", "deploy"]),
       output=st.sampled_from([[], ["--output", "json"]]))
@example(target="gcp", name="PORT", value="9000", as_secret=False, command="plan", output=[])
@example(target="aws", name="PORT", value="9000", as_secret=False, command="deploy", output=[])
@example(target="azure", name="PORT", value="8080", as_secret=True, command="deploy", output=["--output", "json"])
@example(target="gcp", name="K_SERVICE", value="x", as_secret=False, command="deploy", output=[])
def test_env_names_the_platform_sets_are_refused_before_building(workspace, target, name, value, as_secret,
                                                                 command, output):
    # validate checks the spec and each target's settings and size; PORT is a spec rule, the rest
    # are Cloud Run's, said by plan and deploy for that target (before building)
    assume(name == "PORT" if command == "validate" else name in RESERVED_ENV[target])
    table = "secrets" if as_secret else "env"
    data = with_path(workspace["base"], (table, name), f"env:{SECRET_ENV}" if as_secret else value)
    project = fresh_project(workspace["root"], f"p{next(workspace['counter'])}")
    (project / "modelport.toml").write_text(to_toml(data))
    args = [command, str(project), *output, *(["--to", target] if command != "validate" else [])]
    out = run_cli(args, workspace["root"] / "state.db")
    assert_clean_usage_error(out)
    assert f"{table}.{name}" in out.stdout + out.stderr, str(out)


@FUZZ
@given(var=st.from_regex(r"MP_FUZZ_UNSET_[A-Z0-9_]{1,20}", fullmatch=True), target=st.sampled_from(TARGETS),
       command=st.sampled_from(["deploy", "swap"]), output=st.sampled_from([[], ["--output", "json"]]))
@example(var="MP_FUZZ_UNSET_TOKEN", target="dev", command="deploy", output=[])
def test_unset_env_secret_refused_before_building(workspace, var, target, command, output):
    assume(var not in os.environ)
    data = with_path(workspace["base"], ("secrets", "API_TOKEN"), f"env:{var}")
    project = fresh_project(workspace["root"], f"p{next(workspace['counter'])}")
    (project / "modelport.toml").write_text(to_toml(data))
    out = run_cli([command, str(project), "--to", target, *output], workspace["root"] / "state.db")
    assert_clean_usage_error(out)
    assert "secrets.API_TOKEN" in out.stdout + out.stderr and var in out.stdout + out.stderr, str(out)
