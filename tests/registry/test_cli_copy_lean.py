"""`modelport copy` starts lean: it runs without importing the spec, the engine, the state store,
any provider plugin or a cloud SDK, and still answers as every command does (one line, exit 2 for
bad input, JSON with --output json)."""

from __future__ import annotations

import json
import subprocess
import sys

from modelport.registry import push

from .helpers import synthetic_image

PROBE = """
import json, sys
sys.argv = ["modelport", *sys.argv[1:]]
from modelport.cli_entry import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("modelport_providers", "pydantic", "docker", "boto3",
               "google", "azure", "pluggy", "sqlite3") or m.startswith(("modelport.api", "modelport.engine",
               "modelport.state", "modelport.spec", "modelport.registry.export", "modelport.cli_input")))
cli = sorted(m for m, mod in sys.modules.items()
             if mod is not None and (m == "httpx._main" or m.split(".")[0] in ("rich", "pygments")))
print(json.dumps({"code": code, "heavy": heavy, "cli": cli, "httpx": "httpx" in sys.modules,
                  "tenacity": "tenacity" in sys.modules}), file=sys.stderr)
"""


def _run(*args: str):
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    return proc.stdout, json.loads(proc.stderr.strip().splitlines()[-1]), proc.stderr


def test_copy_imports_nothing_it_does_not_use_and_refuses_bad_input():
    out, probe, err = _run("copy", "not a reference", "127.0.0.1:5000/dest", "--output", "json")
    assert probe["heavy"] == [], probe
    assert probe["code"] == 2 and json.loads(out)["exit_code"] == 2, err
    out, probe, err = _run("copy", "127.0.0.1:5000/a@sha256:" + "0" * 64, "--output", "json")
    assert probe["code"] == 2 and json.loads(out)["error"] == "UsageError" and "DEST_REPO" in out, out
    assert probe["heavy"] == []


def test_a_real_copy_imports_neither_httpx_nor_a_command_line_it_does_not_run(store, registry_a, registry_b):
    """A copy that really talks to two registries runs on http.client: it loads neither httpx
    (whose import alone cost a third of a re-copy) nor rich or pygments, nor the retry library
    while no call fails."""
    digest = synthetic_image(store, [200_000], seed="lean-copy")
    push(store, digest, f"{registry_a.host}/lean/m")
    for _attempt in ("first", "re-copy"):
        out, probe, err = _run("copy", f"{registry_a.host}/lean/m@{digest}", f"{registry_b.host}/lean/m",
                               "--output", "json")
        assert probe["code"] == 0 and json.loads(out)["digest"] == digest, err
        assert not probe["httpx"] and probe["cli"] == [] and probe["heavy"] == [], probe
        assert not probe["tenacity"], probe  # loaded only once a registry call fails
    assert registry_b.manifest_digest("lean/m", digest) == digest
