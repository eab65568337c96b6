#!/usr/bin/env bash
# Run the whole test suite on a fresh Debian 12 machine:
#   installs what is missing (scripts/bootstrap.sh), starts a private Docker engine with the
#   offline base image and the state backends' servers (PostgreSQL, moto S3, Azurite), runs
#   pytest on tests/ against the installed package, stops everything it started (by pid, also on
#   failure or Ctrl-C) and exits with pytest's exit code.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/registry -k copy -x`.
#
# Two runs share the engine:
#   1. everything not marked `alone`, in parallel: pytest-xdist with PYTEST_WORKERS workers
#      (default 4: most of a test's time is spent waiting on containers, emulators and gates, so
#      4 workers keep a 2-core machine busy), each module (or test class) on one worker;
#   2. the tests marked `alone` (they must not share the machine), one at a time.
# At the end it prints the slowest tests of both runs and the total wall time.
# PYTEST_WORKERS=0 runs everything in one serial pytest run. With your own `-m`, one run only.
# Only tests marked `timing` are rerun (once) when they fail; each rerun is listed with its cause.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. scripts/bootstrap.sh
mp_start_services test --state-stores

if [ "$#" -eq 0 ]; then set -- tests; fi
workers="${PYTEST_WORKERS:-4}"
timeout="${PYTEST_TIMEOUT:-900}"
reports="$MP_RUN_DIR/reports"
mkdir -p "$reports"
common=(-p no:cacheprovider --timeout "$timeout")
own_marker=no
for arg in "$@"; do [ "$arg" = "-m" ] && own_marker=yes; done

started=$(date +%s)
run() {  # run NAME ARGS...: one pytest run saving its durations; its exit code in $rc
  local name="$1"; shift
  echo "[test] pytest $* (timeout ${timeout}s per test)" >&2
  set +e
  "$VENV/bin/pytest" "${common[@]}" --save-durations "$reports/$name.json" "$@"
  rc=$?
  set -e
  echo "[test] $name: pytest exit code $rc" >&2
}

if [ "$workers" = "0" ] || [ "$own_marker" = yes ]; then
  run all "$@"
  final=$rc
else
  run parallel -n "$workers" --dist loadscope -m "not alone" "$@"
  first=$rc
  run alone -m alone "$@"
  second=$rc
  # exit code 5 = "no tests collected": fine for one of the two runs, not for both
  if [ "$first" -eq 5 ] && [ "$second" -eq 5 ]; then final=5
  elif [ "$first" -ne 0 ] && [ "$first" -ne 5 ]; then final=$first
  elif [ "$second" -ne 0 ] && [ "$second" -ne 5 ]; then final=$second
  else final=0
  fi
fi
"$VENV/bin/python" scripts/slowest.py --top 15 --wall "$(( $(date +%s) - started ))" "$reports"/*.json || true
# the run folder goes when the run passes: keep its durations for `scripts/slowest.py --update .run/last-durations/*.json`
rm -rf .run/last-durations && mkdir -p .run/last-durations && cp "$reports"/*.json .run/last-durations/ 2>/dev/null || true
echo "[test] exit code $final" >&2
exit "$final"
