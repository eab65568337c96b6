"""Benchmark: a no-op ``deploy``/``plan`` (the spec is already deployed) against ``modelport
providers`` (a CLI start that loads the plugins), on local and on each emulated cloud, same run.

What it does, in one run:
1. starts the emulated clouds (``python -m moto_fixtures.demo_clouds``) unless ``--local-only``;
2. copies the iris example with targets ``dev`` (local), ``aws``, ``gcp``, ``azure`` (Container
   Instances) and ``aca`` (Container Apps), as the demo writes them, into a temporary folder
   with its own MODELPORT_HOME and state;
3. deploys it once to each target (not timed), then times ``--trials`` runs of ``modelport
   providers``, and of ``plan`` and ``deploy`` per target, interleaved so load drifts hit each
   equally; reports medians and the ratio to ``providers``;
4. with ``--before`` also times the same no-op commands with the build cache emptied before each
   run: what every plan/deploy cost before the cache (a rebuild through the engine's layer cache
   and a full re-export to learn the digest).

Usage (needs the private Docker engine, as scripts/test.sh starts it)::

    DOCKER_HOST=unix:///…/docker.sock .venv/bin/python benchmarks/noop.py [--trials 5] [--before]
        [--local-only] [--output json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MP = [sys.executable, "-m", "modelport"]
CLOUD_TARGETS = """
[targets.aws]
provider = "aws"
region = "{AWS_REGION}"
endpoint_url = "{AWS_ENDPOINT_URL}"
registry = "{AWS_ECR_REGISTRY}/modelport"

[targets.gcp]
provider = "gcp"
project = "modelport-demo"
region = "us-central1"
api_endpoint = "{GCP_ENDPOINT}"
credentials = "anonymous"
registry = "{GCP_REGISTRY}/modelport"
public = true

[targets.azure]
provider = "azure"
subscription_id = "{AZURE_SUBSCRIPTION}"
resource_group = "modelport-demo"
location = "eastus"
base_url = "{AZURE_BASE_URL}"
ca_bundle = "{AZURE_CA_BUNDLE}"
token_env = "DEMO_AZURE_TOKEN"
registry = "{AZURE_REGISTRY}/modelport"
endpoint_host = "ip"

[targets.aca]
provider = "azure-apps"
subscription_id = "{AZURE_SUBSCRIPTION}"
resource_group = "modelport-demo"
location = "eastus"
environment = "modelport-demo-env"
base_url = "{AZURE_BASE_URL}"
ca_bundle = "{AZURE_CA_BUNDLE}"
token_env = "DEMO_AZURE_TOKEN"
registry = "{AZURE_REGISTRY}/modelport"
via_static_ip = true
allow_insecure = true
"""


def bytecode_env(work: Path) -> dict[str, str]:
    """The environment with Python's bytecode cache on, kept under ``work``.

    pip compiles an installed package's bytecode, so a user's ``modelport`` starts from .pyc
    files; this machine sets PYTHONDONTWRITEBYTECODE and the dev install skips compiling, which
    would time the compilation of every imported module on every run instead. The untimed
    warm-up runs fill the cache; the venv itself is not touched."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


def start_clouds(work: Path) -> tuple[subprocess.Popen, dict[str, str]]:
    """The demo's emulated clouds, and the settings a user would configure for them."""
    env_file = work / "clouds.env"
    proc = subprocess.Popen([sys.executable, "-m", "moto_fixtures.demo_clouds", str(env_file)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=open(work / "clouds.log", "wb"))
    deadline = time.monotonic() + 240
    while not env_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the emulated clouds did not start; see {work / 'clouds.log'}")
        time.sleep(0.2)
    settings = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return proc, settings


def make_project(work: Path, clouds: dict[str, str] | None) -> Path:
    """The iris example; with clouds, sized for all three (as examples/demo.sh does)."""
    project = work / "iris"
    shutil.copytree(ROOT / "examples" / "iris", project, ignore=shutil.ignore_patterns("train.py", "__pycache__"))
    toml = project / "modelport.toml"
    text = toml.read_text()
    if clouds:
        text = (text.replace("max_instances = 2", "max_instances = 1").replace("cpu = 0.5", "cpu = 1")
                .replace('memory = "1Gi"', 'memory = "2Gi"'))
        text += CLOUD_TARGETS.format(**clouds)
    toml.write_text(text)
    return project


def run(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one CLI run; raises with its stderr when it fails."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed ({proc.returncode}): {proc.stderr[-1500:]}")
    return wall


def measure(project: Path, targets: list[str], env: dict[str, str], trials: int, before: bool) -> dict:
    """Medians of providers and of the no-op plan/deploy per target (and without the cache)."""
    home = Path(env["MODELPORT_HOME"])
    cases = {"providers": MP + ["providers"]}
    for target in targets:
        for verb in ("plan", "deploy"):
            cases[f"{verb} {target}"] = MP + [verb, str(project), "--to", target, "--events", "none"]
    times: dict[str, list[float]] = {name: [] for name in cases}
    if before:
        times.update({f"{name} (no cache)": [] for name in cases if name != "providers"})
    for _ in range(trials):
        for name, cmd in cases.items():
            times[name].append(run(cmd, env))
            if before and name != "providers":
                shutil.rmtree(home / "builds", ignore_errors=True)
                times[f"{name} (no cache)"].append(run(cmd, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["providers"]
    return {name: {"median_s": round(m, 3), "ratio": round(m / base, 2), "runs": [round(v, 3) for v in times[name]]}
            for name, m in medians.items()}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--before", action="store_true", help="also time each no-op without the build cache")
    parser.add_argument("--local-only", action="store_true", help="no emulated clouds, only the local target")
    parser.add_argument("--output", choices=["text", "json"], default="text")
    args = parser.parse_args(argv)
    if not os.environ.get("DOCKER_HOST"):
        parser.error("set DOCKER_HOST to the private engine (see the module docstring)")
    with tempfile.TemporaryDirectory(prefix="mp-noop-") as tmp:
        work = Path(tmp)
        clouds, settings = (None, None) if args.local_only else start_clouds(work)
        try:
            report = _run(args, work, settings)
        finally:
            if clouds is not None:
                clouds.send_signal(signal.SIGTERM)
                clouds.wait(timeout=60)
    if args.output == "json":
        print(json.dumps(report, indent=2))
    else:
        print_text(report)
    return 0


def _run(args, work: Path, settings: dict[str, str] | None) -> dict:
    env = {**bytecode_env(work), "MODELPORT_HOME": str(work / "home"), "MODELPORT_STATE": str(work / "state.db"),
           "DEMO_AZURE_TOKEN": "demo-token"}
    if settings:  # the AWS credentials a user would export (the emulator's admin keys)
        env.update({k: settings[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")})
    project = make_project(work, settings)
    targets = ["dev"] + ([] if settings is None else ["aws", "gcp", "azure", "aca"])
    try:
        for target in targets:
            run(MP + ["deploy", str(project), "--to", target, "--events", "none"], env)
        run(MP + ["providers"], env)  # fills the bytecode cache for this command's imports too
        results = measure(project, targets, env, args.trials, args.before)
    finally:
        for target in targets:
            subprocess.run(MP + ["destroy", "iris", "--to", target, "--events", "none"], env=env,
                           capture_output=True)
    return {"trials": args.trials, "load_average": os.getloadavg(), "results": results}


def print_text(report: dict) -> None:
    """The medians as a table, ratio to ``modelport providers``."""
    print(f"medians of {report['trials']} runs; load average at the end {report['load_average'][0]:.1f}")
    print(f"{'command':28} {'median s':>9} {'x providers':>12}")
    for name, row in report["results"].items():
        print(f"{name:28} {row['median_s']:9.3f} {row['ratio']:12.2f}")


if __name__ == "__main__":
    sys.exit(main())
