#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine for modelport's demo and tests (idempotent, fast when done).
#   * apt: docker.io (dockerd), docker-registry (CNCF distribution 2.8), debootstrap, skopeo,
#     postgresql and nodejs/npm (the state backend tests' servers), pigz (benchmarks/export.py
#     compares against it), installed only when missing.
#   * npm: azurite (Microsoft's Azure Storage emulator), installed globally when missing.
#   * .venv in the repo with a NON-editable install of '.[test]', re-installed on every run so
#     the tests always exercise the package as built from the current tree.
# Source it (`. scripts/bootstrap.sh`) or run it; afterwards "$REPO_ROOT/.venv/bin/python" works.
# When sourced it also defines mp_start_services (used by scripts/test.sh and scripts/demo.sh):
# a private Docker engine + base image via `python -m moto_fixtures.services up`, its variables
# exported, and an EXIT/INT/TERM trap that stops exactly that engine by pid.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
PYTHON_BIN="${PYTHON:-python3}"

_log() { echo "[bootstrap] $*" >&2; }

_apt_install_missing() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
  command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
  command -v pigz >/dev/null 2>&1 || missing+=(pigz)
  compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  if [ "${#missing[@]}" -eq 0 ]; then
    _log "system packages present (dockerd, docker-registry, debootstrap, skopeo, pigz, postgresql, node, npm)"
    return
  fi
  _log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

_npm_install_missing() {
  if command -v azurite-blob >/dev/null 2>&1; then
    _log "azurite present"
    return
  fi
  _log "npm install -g azurite"
  npm install -g --no-audit --no-fund --loglevel=error azurite@3 >/dev/null
}

_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    _log "creating $VENV with $("$PYTHON_BIN" --version 2>&1)"
    "$PYTHON_BIN" -m venv "$VENV"
  fi
  _log "pip install '.[test]' into $VENV (not editable)"
  # --upgrade rebuilds the local project every run (dependencies only when needed), so edits
  # to the tree are picked up while already-satisfied dependencies cost nothing.
  # --no-compile: byte-compiling every dependency (botocore, scipy, ...) roughly doubled the
  # CPU time of a first install; Python compiles what is actually imported.
  (cd "$REPO_ROOT" && "$VENV/bin/python" -m pip install -qq --no-compile --upgrade \
      --upgrade-strategy only-if-needed '.[test]')
  # Test-only extra not (yet) in pyproject's [test]: bcrypt, for htpasswd files of auth
  # registries (tests/registry uses it directly; moto_fixtures falls back to it).
  "$VENV/bin/python" -c 'import bcrypt' 2>/dev/null || "$VENV/bin/python" -m pip install -qq bcrypt
}

# Start the private engine (+ base image) for the calling script; stop it on any exit.
#   mp_start_services NAME [--state-stores]  -> exports DOCKER_HOST, MODELPORT_BASE_IMAGE (and with
#   --state-stores MODELPORT_TEST_POSTGRES/_S3/_AZURITE: the state backends' servers); PATH gets .venv/bin
mp_start_services() {
  local name="$1"
  shift
  MP_LABEL="$name"
  MP_RUN_DIR="$REPO_ROOT/.run/$name-$$"
  # Never reuse an engine from the caller's shell: the scripts own the engine they test with.
  unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH MODELPORT_BASE_IMAGE
  trap _mp_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  echo "[$name] starting a private Docker engine (dockerd) and the base image; state in $MP_RUN_DIR" >&2
  (cd "$REPO_ROOT" && "$VENV/bin/python" -m moto_fixtures.services up --run-dir "$MP_RUN_DIR" "$@")
  # shellcheck disable=SC1091
  . "$MP_RUN_DIR/env"
  export PATH="$VENV/bin:$PATH"
  echo "[$name] exported DOCKER_HOST=$DOCKER_HOST MODELPORT_BASE_IMAGE=$MODELPORT_BASE_IMAGE" >&2
}

_mp_on_exit() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "${MP_RUN_DIR:-}" ] && [ -d "$MP_RUN_DIR" ]; then
    echo "[$MP_LABEL] stopping the private Docker engine (by pid, from $MP_RUN_DIR)" >&2
    (cd "$REPO_ROOT" && "$VENV/bin/python" -m moto_fixtures.services down --run-dir "$MP_RUN_DIR") \
      || echo "[$MP_LABEL] WARNING: could not stop everything; see $MP_RUN_DIR" >&2
    if [ "$rc" -eq 0 ]; then
      rm -rf "$MP_RUN_DIR" || echo "[$MP_LABEL] WARNING: could not remove $MP_RUN_DIR" >&2
    else
      echo "[$MP_LABEL] logs kept in $MP_RUN_DIR" >&2
    fi
  fi
  exit "$rc"
}

_apt_install_missing
_npm_install_missing
_venv
export REPO_ROOT VENV
