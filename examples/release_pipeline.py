"""A CI release pipeline: deploy a new model version to staging, promote the very same image
digest to prod, act on each failure by its exit code, and print a timed summary.

    python examples/release_pipeline.py examples/iris-v2 --staging staging --prod prod \
        --strategy canary --steps 10,50,100 --wait-lock 120 --recover abort

It uses only the documented API (``modelport.api``), the typed events (``Session(on_event=...)``)
and the errors' fields and exit codes (README, "The CLI"):

* 1 a gate (or a cloud call) failed: modelport already rolled the operation back; stop.
* 2 bad input (the spec, an unknown digest): nothing was touched; fix it.
* 3 another live process holds the lock (after waiting ``--wait-lock`` seconds): try later.
* 4 an unfinished operation blocks the deployment: with ``--recover abort|resume`` the script
  settles it and releases once more; otherwise it prints what is left and stops.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

import modelport.api as mp
from modelport.errors import EXIT_FAILED, EXIT_LOCKED, EXIT_UNFINISHED, ModelportError


class Timeline:
    """Collects the events of the run: prints each as it comes, keeps what the summary needs."""

    def __init__(self, out=sys.stderr) -> None:
        self.out = out
        self.operations: list = []   # operation.finished events
        self.builds: list = []       # build.finished events
        self.counts: Counter = Counter()

    def __call__(self, event) -> None:
        self.counts[event.type] += 1
        if event.type == "gate.finished" and not event.passed:
            self.counts["gate.failed"] += 1
        if event.type == "operation.finished":
            self.operations.append(event)
        elif event.type == "build.finished":
            self.builds.append(event)
        if event.type != "transfer.progress":
            print(f"  {event.text()}", file=self.out)

    def summary(self) -> str:
        """One line per operation with its time, then the build, gates and retries."""
        lines = ["release summary:"]
        lines += [f"  {e.kind:<8} #{e.operation:<4} {e.status:<10} {e.duration:7.1f}s" for e in self.operations]
        lines += [f"  build    {b.digest[:19]}  {b.duration:7.1f}s" for b in self.builds]
        lines.append(f"  gates passed/run: {self.counts['gate.finished'] - self.counts['gate.failed']}/"
                     f"{self.counts['gate.finished']}, retries: {self.counts['retry']}, "
                     f"undone steps: {self.counts['step.undone']}")
        return "\n".join(lines)


def release(args, session) -> tuple[str, str]:
    """Deploy to staging, then promote the digest serving there to prod. Returns (digest, endpoint)."""
    staged = mp.deploy(args.path, args.staging, strategy=args.strategy, steps=args.steps, session=session)
    print(f"staging serves {staged.outputs['image']['digest']} at {staged.endpoint}", file=sys.stderr)
    promoted = mp.promote(staged.outputs["name"], args.staging, args.prod, strategy=args.strategy,
                          steps=args.steps, session=session)
    return promoted.outputs["image"]["digest"], promoted.endpoint


def recover(exc: ModelportError, how: str | None, session) -> bool:
    """An unfinished operation: say what it did and has left; settle it when asked to."""
    fields = exc.to_dict()
    print(f"unfinished {fields.get('kind')} #{fields.get('operation')} on {fields.get('deployment')}: "
          f"left {[s['desc'] for s in fields.get('steps_left', [])]}, "
          f"abort would undo {[s['desc'] for s in fields.get('abort_would_undo', [])]}", file=sys.stderr)
    if how is None or (how == "abort" and not fields.get("abort_possible", True)):
        return False
    settled = (mp.abort if how == "abort" else mp.resume)(fields["deployment"], session=session)
    print(f"{how}: operation #{settled.operation} {settled.status}", file=sys.stderr)
    return True


def main(argv: list[str] | None = None, session: mp.Session | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="folder holding modelport.toml of the new version")
    parser.add_argument("--staging", required=True)
    parser.add_argument("--prod", required=True)
    parser.add_argument("--strategy", default=None, choices=["canary", "blue-green", "all-at-once"])
    parser.add_argument("--steps", type=lambda v: [int(s) for s in v.split(",")], default=None)
    parser.add_argument("--wait-lock", type=float, default=0.0)
    parser.add_argument("--recover", choices=["abort", "resume"], default=None)
    args = parser.parse_args(argv)
    timeline = Timeline()
    session = session or mp.Session()
    session.on_event, session.wait_lock = timeline, args.wait_lock
    code = _run(args, session)
    print(timeline.summary())
    return code


def _run(args, session) -> int:
    for attempt in (1, 2):  # a second attempt only after settling an unfinished operation
        try:
            digest, endpoint = release(args, session)
        except ModelportError as exc:
            fields = exc.to_dict()
            if exc.exit_code == EXIT_UNFINISHED and "steps_left" in fields and attempt == 1 \
                    and recover(exc, args.recover, session):
                continue
            if exc.exit_code == EXIT_LOCKED:
                print(f"locked by {fields['holder']} (pid {fields.get('pid')} on {fields.get('host')}): "
                      "try again later", file=sys.stderr)
            elif exc.exit_code == EXIT_FAILED and fields.get("undone"):
                print(f"release failed at {fields.get('target')} ({fields.get('check') or fields['error']}); "
                      f"rolled back, the previous version still serves: {exc.message}", file=sys.stderr)
            else:
                print(f"release stopped ({fields['error']}, exit {exc.exit_code}): {exc}", file=sys.stderr)
            return exc.exit_code
        print(f"released {digest} to {args.prod} at {endpoint}")
        return 0
    return EXIT_UNFINISHED


if __name__ == "__main__":
    sys.exit(main())
