"""`modelport copy` starts lean: it runs without importing the spec, the engine, the state store,
any provider plugin or a cloud SDK, and still answers as every command does (one line, exit 2 for
bad input, JSON with --output json)."""

from __future__ import annotations

import json
import subprocess
import sys

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
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
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
