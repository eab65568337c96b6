"""A release script: swap a model version in with a canary, exit non-zero on a failed gate.

    python examples/release.py examples/iris-v2 --to prod --steps 10,50,100

On a failed health gate modelport has already moved all traffic back to the previous revision and
removed the new one; this script only reports it and exits 1 so the pipeline stops. A target whose
provider cannot split traffic refuses the canary (exit 2), and the script says what it can do.
"""

from __future__ import annotations

import argparse
import sys

import modelport.api as mp
from modelport.errors import CapabilityError, HealthGateFailed, ModelportError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="folder holding modelport.toml of the new version")
    parser.add_argument("--to", required=True, dest="target")
    parser.add_argument("--steps", default="10,50,100")
    parser.add_argument("--strategy", default="canary", choices=["canary", "blue-green", "all-at-once"])
    args = parser.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",")]
    session = mp.Session(report=lambda msg: print(f"  {msg}", file=sys.stderr))
    try:
        result = mp.swap(args.path, args.target, strategy=args.strategy, steps=steps, session=session)
    except CapabilityError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return exc.exit_code
    except HealthGateFailed as exc:
        print(f"release failed, previous version still serving: {exc}", file=sys.stderr)
        return 1
    except ModelportError as exc:
        print(f"release failed: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"released revision {result.revision} at {result.endpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
