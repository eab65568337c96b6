#!/usr/bin/env bash
# Run the whole test suite on a fresh Debian 12 machine:
#   installs what is missing (scripts/bootstrap.sh), starts a private Docker engine with the
#   offline base image and the state backends' servers (PostgreSQL, moto S3, Azurite), runs pytest on tests/ against the installed package, stops the engine
#   (by pid, also on failure or Ctrl-C) and exits with pytest's exit code.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k registry -x`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. scripts/bootstrap.sh
mp_start_services test --state-stores

# Without arguments: all of tests/.  With arguments they choose (paths, -k, -x ...); pytest's
# testpaths still default to tests/ when only options are given.
if [ "$#" -eq 0 ]; then set -- tests; fi
echo "[test] pytest $* (timeout ${PYTEST_TIMEOUT:-900}s per test)" >&2
set +e
# Integration tests drive real engines, registries and emulators on a shared 2-core machine: a
# failing test is run once more (reported as "rerun" in the summary) before it counts as failed.
"$VENV/bin/pytest" -p no:cacheprovider --timeout "${PYTEST_TIMEOUT:-900}" --reruns "${PYTEST_RERUNS:-1}" "$@"
rc=$?
set -e
echo "[test] pytest exit code $rc" >&2
exit "$rc"
