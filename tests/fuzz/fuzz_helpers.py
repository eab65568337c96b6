"""Shared pieces of the bad-input fuzz tests: a TOML writer for hostile values, a network tripwire,
the valid base project every mutation starts from, and the CLI assertions.

The tripwire is how "never a cloud call" is checked: every cloud target of a fuzzed spec points at
a decoy TCP listener that counts connections, and a Python audit hook records every socket connect
and DNS lookup this process makes while armed (Docker's unix socket included, so a build that
started would show up too).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from click.testing import CliRunner, Result

from modelport.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AZURE_TOKEN_ENV = "MP_FUZZ_AZURE_TOKEN"
SECRET_ENV = "MP_FUZZ_SECRET"


# -- TOML out of arbitrary Python values (tomllib only reads) ----------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(text: str) -> str:
    """A TOML basic string: escapes quotes, backslashes and every control character (DEL too)."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else toml_string(key)


def toml_value(value: Any) -> str:
    """An inline TOML value (tables inline), for any bool/int/float/str/date/list/dict."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    if hasattr(value, "isoformat"):  # TOML dates, times and datetimes
        return value.isoformat()
    raise TypeError(f"no TOML for {type(value).__name__}")


def to_toml(data: dict, prefix: tuple[str, ...] = ()) -> str:
    """A whole document: scalars first, then ``[a.b]`` tables for nested dicts (as people write)."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
            tables.append((key, value))
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, value in tables:
        path = (*prefix, key)
        scalars = {k: v for k, v in value.items() if not (isinstance(v, dict) and v)}
        out += "\n[" + ".".join(toml_key(p) for p in path) + "]\n"
        out += to_toml(scalars) if scalars else ""
        nested = {k: v for k, v in value.items() if isinstance(v, dict) and v}
        if nested:
            out += to_toml(nested, path)
    return out


# -- the network tripwire ---------------------------------------------------------------------------

class Tripwire:
    """A decoy listener cloud endpoints point at, plus an audit hook over this process's sockets."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[tuple[str, int]] = []
        self.events: list[tuple[str, str]] = []
        self._owner: int | None = None  # the thread that armed it (the CLI runs in that thread)
        threading.Thread(target=self._accept, name="tripwire", daemon=True).start()
        sys.addaudithook(self._audit)  # cannot be removed; costs one attribute check when disarmed

    def _accept(self) -> None:
        while True:
            try:
                conn, address = self.listener.accept()
            except OSError:
                return
            self.accepted.append(address)
            conn.close()

    @property
    def armed(self) -> bool:
        return self._owner is not None

    @armed.setter
    def armed(self, value: bool) -> None:
        self._owner = threading.get_ident() if value else None

    def _audit(self, event: str, args: tuple) -> None:
        # only the armed thread: emulators and servers of other tests' session fixtures keep
        # background threads talking to Docker; the decoy listener catches any connection anyway
        if self._owner is not None and self._owner == threading.get_ident() \
                and event in ("socket.connect", "socket.getaddrinfo"):
            self.events.append((event, repr(args[1] if event == "socket.connect" else args[:2])[:200]))

    def calls(self) -> list:
        """Everything recorded so far: decoy connections and in-process connects/lookups."""
        return [*self.accepted, *self.events]

    def reset(self) -> None:
        self.accepted.clear()
        self.events.clear()


_TRIPWIRE: Tripwire | None = None


def tripwire() -> Tripwire:
    """The process-wide tripwire (one audit hook per process)."""
    global _TRIPWIRE
    if _TRIPWIRE is None:
        _TRIPWIRE = Tripwire()
    return _TRIPWIRE


# -- the valid base project --------------------------------------------------------------------------

def base_spec(port: int) -> dict:
    """A valid spec using every section, with one target per provider, all aimed at 127.0.0.1:port."""
    decoy = f"127.0.0.1:{port}"
    return {
        "name": "fuzz-iris",
        "model": {"name": "iris", "version": "1.0.0", "path": "model.joblib", "framework": "sklearn"},
        "serving": {"port": 8080, "sample_input": "sample.json", "expected_output_shape": [2], "workers": 1,
                    "requirements": ["scikit-learn"]},
        "build": {"base_image": "modelport-base:bookworm", "platform": "linux/amd64"},
        "resources": {"cpu": 1.0, "memory": "2Gi", "gpu": 0},
        # one instance: the azure target (Container Instances has no autoscaling) refuses more
        "scaling": {"min_instances": 1, "max_instances": 1, "concurrency": 80},
        "rollout": {"strategy": "blue-green", "steps": [10, 50, 100], "gate_timeout": 60.0, "keep_revisions": 1},
        "env": {"LOG_LEVEL": "info"},
        "secrets": {"API_TOKEN": f"env:{SECRET_ENV}"},
        "targets": {
            "dev": {"provider": "local", "docker_host": "unix:///nonexistent/modelport-fuzz.sock"},
            "aws": {"provider": "aws", "region": "us-east-1", "endpoint_url": f"http://{decoy}",
                    "listener_port": 80, "name_prefix": "mp", "subnets": ["subnet-1", "subnet-2"]},
            "gcp": {"provider": "gcp", "project": "fuzz-project", "region": "us-central1",
                    "api_endpoint": f"http://{decoy}", "credentials": "anonymous", "request_timeout_s": 300},
            "azure": {"provider": "azure", "subscription_id": "00000000-0000-0000-0000-000000000000",
                      "resource_group": "fuzz-rg", "location": "westeurope", "base_url": f"https://{decoy}",
                      "token_env": AZURE_TOKEN_ENV, "registry": f"{decoy}/fuzz", "dns_label_prefix": "fuzz",
                      "operation_timeout_s": 60.0},
        },
    }


def fresh_project(root: Path, name: str = "project") -> Path:
    """A copy of examples/iris (model file and sample input) to write a fuzzed spec into."""
    dest = root / name
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for file in ("model.joblib", "sample.json"):
        shutil.copy(EXAMPLES / "iris" / file, dest / file)
    return dest


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary folder in memory when the machine has /dev/shm: thousands of examples each open a
    fresh SQLite state store, and a journal fsync on a busy disk costs more than the example."""
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def isolated_env(monkeypatch, home: Path, port: int) -> None:
    """Environment under which no command can reach a real cloud or a real Docker engine."""
    decoy = f"http://127.0.0.1:{port}"
    for name in ("MODELPORT_DEBUG", "AWS_PROFILE", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    settings = {
        "DOCKER_HOST": "unix:///nonexistent/modelport-fuzz-docker.sock",
        "MODELPORT_HOME": str(home / "mphome"), "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "fuzz", "AWS_SECRET_ACCESS_KEY": "fuzz", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_EC2_METADATA_SERVICE_ENDPOINT": decoy,
        "GCE_METADATA_HOST": f"127.0.0.1:{port}", "GCE_METADATA_IP": f"127.0.0.1:{port}", "NO_GCE_CHECK": "True",
        "IDENTITY_ENDPOINT": decoy, "MSI_ENDPOINT": decoy,
        AZURE_TOKEN_ENV: "fuzz-token", SECRET_ENV: "fuzz-secret",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)


# -- running the CLI and judging its answer ------------------------------------------------------------

@dataclass
class Outcome:
    """One CLI run: exit code, stdout, stderr and the exception click's runner caught (if any)."""

    args: list[str]
    code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None
    calls: list = field(default_factory=list)

    def __str__(self) -> str:
        return (f"modelport {' '.join(map(repr, self.args))} -> exit {self.code}\nstdout: {self.stdout[:2000]}\n"
                f"stderr: {self.stderr[:2000]}\nexception: {self.exception!r}\nnetwork: {self.calls[:5]}")


def run_cli(args: list[str], state: Path) -> Outcome:
    """Run ``modelport ARGS`` in-process with its own state file, the tripwire armed."""
    wire = tripwire()
    wire.reset()
    wire.armed = True
    try:
        result: Result = CliRunner().invoke(main, ["--state", str(state), *args])
    finally:
        wire.armed = False
    exc = result.exception if not isinstance(result.exception, SystemExit) else None
    return Outcome(args, result.exit_code, result.stdout, result.stderr, exc, wire.calls())


def assert_clean_usage_error(out: Outcome) -> None:
    """Exit 2, no traceback, no network, and with --output json one JSON error document on stdout."""
    assert out.exception is None, str(out)
    assert out.code == 2, str(out)
    assert "Traceback" not in out.stdout + out.stderr, str(out)
    assert not out.calls, str(out)
    if json_requested(out.args):
        doc = json.loads(out.stdout)
        assert isinstance(doc.get("error"), str) and doc["error"], str(out)
        assert isinstance(doc.get("message"), str) and doc["message"], str(out)
    assert out.stderr.strip(), str(out)


def json_requested(argv: list[str]) -> bool:
    """Whether a command line asks for ``--output json`` (in any spelling click accepts)."""
    return any(a in ("--output=json", "-ojson") or (a in ("--output", "-o") and b == "json")
               for a, b in zip(argv, [*argv[1:], ""]))


def json_fields(out: Outcome) -> list[str]:
    """The ``field`` of every error in a ``--output json`` error document."""
    doc = json.loads(out.stdout)
    return [e.get("field", "") for e in doc.get("errors", [doc])]


def names_field(out: Outcome, accepted: tuple[str, ...], file: Path) -> bool:
    """Whether the errors name one of ``accepted`` (a dotted field or a parent of it); "" = the file."""
    if json_requested(out.args):
        fields = json_fields(out)
        return any(f == a or f.startswith(a + ".") or (a == "" and str(file) in out.stdout)
                   for f in fields for a in accepted)
    return any(f"{file}: {a}" in out.stderr if a else str(file) in out.stderr for a in accepted)


def with_path(data: dict, path: tuple, value: Any) -> dict:
    """A deep copy of ``data`` with ``path`` set to ``value`` (creating tables as needed)."""
    copy = json.loads(json.dumps(data))
    node = copy
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return copy


def without_path(data: dict, path: tuple) -> dict:
    copy = json.loads(json.dumps(data))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node.pop(path[-1], None)
    return copy
