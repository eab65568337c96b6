#!/usr/bin/env bash
# Run the modelport demo on a fresh Debian 12 machine:
#   installs what is missing (scripts/bootstrap.sh), starts a private Docker engine with the
#   offline base image, runs examples/demo.sh with DOCKER_HOST / MODELPORT_BASE_IMAGE set and
#   the `modelport` command on PATH, then stops the engine (by pid, also on failure or Ctrl-C).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. scripts/bootstrap.sh
mp_start_services demo

if [ -f examples/demo.sh ]; then
  echo "[demo] running examples/demo.sh" >&2
  bash examples/demo.sh "$@"
else
  echo "[demo] the demo is not written yet (examples/demo.sh); the environment is ready." >&2
fi
