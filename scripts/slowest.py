"""Print the slowest tests of a run and its totals; optionally keep its durations for scheduling.

``scripts/test.sh`` calls it at the end of every run with the durations each pytest run saved
(``--save-durations``, see ``tests/budget.py``)::

    python scripts/slowest.py --top 15 --wall SECONDS .run/test-*/reports/*.json

``--update`` merges those durations into ``tests/durations.json``, the file the scheduler reads
to hand out the longest units of work first (refresh it after a full run that changed much).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

KEPT = Path(__file__).resolve().parents[1] / "tests" / "durations.json"


def load(paths: list[Path]) -> dict[str, float]:
    """Test id -> seconds, from every durations file that exists."""
    out: dict[str, float] = {}
    for path in paths:
        if path.exists():
            out.update(json.loads(path.read_text()))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path, help="durations files written by --save-durations")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--wall", type=float, help="wall time of the whole run, in seconds")
    parser.add_argument("--update", action="store_true", help=f"merge the durations into {KEPT}")
    args = parser.parse_args(argv)
    found = load(args.files)
    if not found:
        return 0
    ranked = sorted(found.items(), key=lambda kv: -kv[1])
    print(f"\n[test] slowest {min(args.top, len(ranked))} of {len(ranked)} tests:")
    for test_id, seconds in ranked[:args.top]:
        print(f"  {seconds:8.1f}s  {test_id}")
    wall = f"; wall time {args.wall / 60:.1f} min" if args.wall else ""
    print(f"[test] {len(ranked)} tests, {sum(found.values()) / 60:.1f} min of test time{wall}")
    if args.update:
        kept = load([KEPT])
        kept.update(found)
        KEPT.write_text(json.dumps(dict(sorted(kept.items())), indent=0) + "\n")
        print(f"[test] durations of {len(found)} tests merged into {KEPT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
