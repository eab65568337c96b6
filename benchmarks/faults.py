"""Faults at every step, the full matrix: for each emulated cloud and each operation (first
deploy, swap all-at-once / blue-green / canary, migrate to a local target retiring the source),
count the operation's control-plane calls, then run it once per fault point with that call
failing once (throttle, 5xx, timeout, reset in turn), and check that it completed or rolled back
cleanly (tests/faults/harness.py says what is checked).

    DOCKER_HOST=unix:///run/mpdev/docker.sock python benchmarks/faults.py --cloud gcp \\
        [--operation deploy ...] [--select sites|writes|all] [--every N] [--json faults-gcp.json]

``--select sites`` (default) fails every write call at each of its occurrences and the first
occurrence of each read; ``writes`` only the write calls; ``all`` fails every call of the
counting run in turn (polls make that slow and timing-dependent); ``--every N`` keeps every
N-th of those points. Prints a table
(tried / survived per cloud and operation, then each failure with its call and fault) and
writes the JSON after every run, so an interrupted matrix keeps its partial results.
Everything started (emulators, registries, proxies, containers) is stopped before exit.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.faults.harness import OPERATIONS, Harness  # noqa: E402
from tests.faults.rigs import CLOUDS, rig  # noqa: E402


def _stop(signum, _frame):
    # a background job ignores SIGINT: SIGTERM stops it the same way, cleaning up on the way out
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    os.environ.setdefault("MODELPORT_HOME", args.home)
    docker_host = os.environ.get("DOCKER_HOST")
    if not docker_host:
        print("set DOCKER_HOST to the Docker engine the emulators run containers on", file=sys.stderr)
        return 2
    report = {"select": args.select, "every": args.every, "started": time.time(), "results": []}
    for cloud in args.cloud or CLOUDS:
        started = rig(cloud, docker_host)
        try:
            harness = Harness(started, Path(tempfile.mkdtemp(prefix=f"faults-{cloud}-")),
                              log=print if args.verbose else None)
            for operation in args.operation or OPERATIONS:
                partial = {"cloud": cloud, "operation": operation, "outcomes": []}
                report["results"].append(partial)

                def progress(outcome, partial=partial):
                    partial["outcomes"].append(outcome.to_dict())
                    mark = "ok  " if outcome.survived else "FAIL"
                    print(f"{mark} {cloud} {operation} {outcome.fault:8} {outcome.key} #{outcome.occurrence}"
                          f" ({'completed' if outcome.completed else 'rolled back'}, {outcome.seconds}s"
                          f"{'' if outcome.reached else ', not reached'})", flush=True)
                    _write(args.json, report)

                result = harness.matrix(operation, args.select, args.every, on_outcome=progress)
                partial.update(result)
                _write(args.json, report)
        finally:
            started.stop()
    report["finished"] = time.time()
    _write(args.json, report)
    print(table(report))
    return 0 if all(not r["failures"] for r in report["results"]) else 1


def table(report: dict) -> str:
    """tried / survived per cloud x operation, then the failures."""
    lines = [f"{'cloud':6} {'operation':18} {'calls':>5} {'points':>6} {'tried':>5} {'survived':>8}"]
    for r in report["results"]:
        lines.append(f"{r['cloud']:6} {r['operation']:18} {r.get('calls', '-'):>5} {r.get('points', '-'):>6} "
                     f"{r.get('tried', '-'):>5} {r.get('survived', '-'):>8}")
    tried = sum(r.get("tried", 0) for r in report["results"])
    survived = sum(r.get("survived", 0) for r in report["results"])
    lines.append(f"{'total':6} {'':18} {'':>5} {'':>6} {tried:>5} {survived:>8}")
    for r in report["results"]:
        for f in r.get("failures", []):
            lines.append(f"FAILED {r['cloud']} {r['operation']}: {f['key']} #{f['occurrence']} {f['fault']}: "
                         f"{'; '.join(f['problems'])[:400]}")
    return "\n".join(lines)


def _write(path: str | None, report: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(report, indent=1))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cloud", action="append", choices=CLOUDS, help="a cloud (repeatable; default: all)")
    p.add_argument("--operation", action="append", choices=OPERATIONS, help="an operation (default: all)")
    p.add_argument("--select", choices=("sites", "writes", "all"), default="sites")
    p.add_argument("--every", type=int, default=1, help="only every N-th fault point")
    p.add_argument("--json", help="write the results here (after every run)")
    p.add_argument("--home", default=str(Path(tempfile.gettempdir()) / "modelport-faults-home"),
                   help="MODELPORT_HOME shared by the runs (images are built once)")
    p.add_argument("--verbose", action="store_true", help="print every step of every run")
    return p


if __name__ == "__main__":
    sys.exit(main())
