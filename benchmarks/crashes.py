"""Crash matrix: every operation on every provider SIGKILLed at every journal point, then resumed
and (on a separate run of the same point) aborted.

For each provider (``local`` on the Docker engine; ``aws``, ``gcp``, ``azure`` on their
emulators, started here and stopped at the end) and each operation (first deploy; swap
all-at-once, blue-green, canary where the provider splits traffic; migrate from a local target
to the provider's target, or between two local targets for ``local``), a driver process runs the
operation through the public Python API and SIGKILLs itself

* ``before`` step i (the journal says i steps done; i = len(plan) is "every step journaled, the
  operation not yet marked finished"),
* ``after`` step i's work (its cloud calls returned and its state records are written) but before
  the journal records it,
* ``mid`` step i: after its cloud call, before its first state record (steps that write one),

then the next command must name the interrupted operation (exit 1, ``modelport resume NAME`` /
``modelport abort NAME``), ``resume`` or ``abort`` must succeed, and the expected version must
answer through the endpoint with state and cloud agreeing, no orphan (``gc``) and no lock left
(``tests/crash/harness.py`` has the checks).

    python benchmarks/crashes.py --providers local,aws --output /tmp/crashes  # one JSON per provider
    python benchmarks/crashes.py --providers gcp --ops swap:canary --modes before

Prints a table (points tried / recovered per provider x operation x resolution) and writes
``crashes-PROVIDER.json`` after every point (so a partial run keeps its results) and
``crashes.json`` with every provider at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.crash.clouds import started  # noqa: E402
from tests.crash.harness import Case, Point, Runner, sweep  # noqa: E402

PROVIDERS = ("local", "aws", "gcp", "azure", "azure-apps")
OPS = ("deploy", "swap:all-at-once", "swap:blue-green", "swap:canary", "migrate")


def ops_for(cloud, wanted: list[str]) -> list[str]:
    """The operations a provider can run (canary only where traffic splits)."""
    return [op for op in wanted if op != "swap:canary" or cloud.canary]


def run_provider(provider: str, ops: list[str], modes: tuple[str, ...], both: bool, out: Path,
                 stride: int = 1, case_minutes: float | None = None) -> list[dict]:
    """Every point of every operation on one provider; writes crashes-PROVIDER.json as it goes."""
    results: list[dict] = []
    path = out / f"crashes-{provider}.json"
    with started(provider) as cloud:
        os.environ.update(cloud.env)
        for op in ops_for(cloud, ops):
            runner = Runner(cloud, out / "work" / provider / op.replace(":", "-"))
            case = Case(runner, op)

            def report(point: Point, started_at=time.monotonic()) -> None:
                results.append(point.to_dict())
                path.write_text(json.dumps(results, indent=1))
                mark = "ok  " if point.ok else "FAIL"
                print(f"{mark} {provider:<6} {op:<17} {point.mode:<6} {point.index:>2} {point.resolution:<6} "
                      f"{point.step[:60]:<60} {point.seconds or ''} {point.problem[:300]}", flush=True)

            try:
                deadline = time.monotonic() + case_minutes * 60 if case_minutes else None
                sweep(case, modes, both=both, stride=stride, report=report, deadline=deadline)
            except Exception as exc:  # the case could not even be prepared: record it, go on
                results.append({"provider": provider, "case": op, "mode": "prepare", "index": -1, "step": "",
                                "resolution": "", "ok": False, "problem": f"{type(exc).__name__}: {exc}"[:3000]})
                path.write_text(json.dumps(results, indent=1))
                print(f"FAIL {provider} {op}: {exc}", flush=True)
            finally:
                try:
                    case.clean()
                except Exception as exc:
                    print(f"cleanup of {provider} {op} failed: {exc}", flush=True)
    return results


def table(results: list[dict]) -> str:
    """Tried / recovered per provider x operation x resolution."""
    rows: dict[tuple[str, str, str], list[int]] = {}
    for r in results:
        key = (r["provider"], r["case"], r["resolution"] or "-")
        tried_ok = rows.setdefault(key, [0, 0])
        tried_ok[0] += 1
        tried_ok[1] += bool(r["ok"])
    lines = [f"{'provider':<8} {'operation':<18} {'resolution':<10} {'tried':>6} {'recovered':>10}"]
    for (provider, op, resolution), (tried, ok) in sorted(rows.items()):
        lines.append(f"{provider:<8} {op:<18} {resolution:<10} {tried:>6} {ok:>10}")
    total = sum(v[0] for v in rows.values()), sum(v[1] for v in rows.values())
    lines.append(f"{'all':<8} {'':<18} {'':<10} {total[0]:>6} {total[1]:>10}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    parser.add_argument("--ops", default=",".join(OPS))
    parser.add_argument("--modes", default="before,after,mid")
    parser.add_argument("--one-resolution", action="store_true",
                        help="alternate resume/abort over the points instead of running each point twice")
    parser.add_argument("--stride", type=int, default=1, help="kill at every N-th step index")
    parser.add_argument("--case-minutes", type=float,
                        help="start no new point of an operation after this many minutes (then the next operation)")
    parser.add_argument("--output", type=Path, default=Path("crash-results"))
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MODELPORT_HOME", str(args.output / "home"))
    results: list[dict] = []
    for provider in args.providers.split(","):
        results += run_provider(provider, args.ops.split(","), tuple(args.modes.split(",")),
                                not args.one_resolution, args.output, args.stride, args.case_minutes)
    (args.output / "crashes.json").write_text(json.dumps(results, indent=1))
    print(table(results))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
