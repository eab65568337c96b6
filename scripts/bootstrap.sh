#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine for modelport's demo and tests (idempotent, fast when done).
#   * apt: docker.io (dockerd), docker-registry (CNCF distribution 2.8), debootstrap, skopeo,
#     installed only when a command is missing.
#   * .venv in the repo with a NON-editable install of '.[test]', re-installed on every run so
#     the tests always exercise the package as built from the current tree.
# Source it (`. scripts/bootstrap.sh`) or run it; afterwards "$REPO_ROOT/.venv/bin/python" works.
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
  if [ "${#missing[@]}" -eq 0 ]; then
    _log "system packages present (dockerd, docker-registry, debootstrap, skopeo)"
    return
  fi
  _log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    _log "creating $VENV with $("$PYTHON_BIN" --version 2>&1)"
    "$PYTHON_BIN" -m venv "$VENV"
  fi
  _log "pip install '.[test]' into $VENV (not editable)"
  # --upgrade rebuilds the local project every run (dependencies only when needed), so edits
  # to the tree are picked up while already-satisfied dependencies cost nothing.
  (cd "$REPO_ROOT" && "$VENV/bin/python" -m pip install -qq --upgrade \
      --upgrade-strategy only-if-needed '.[test]')
  # htpasswd files for auth registries need bcrypt: the stdlib crypt module provides it on
  # Debian's libxcrypt; fall back to the bcrypt wheel where it does not.
  if ! "$VENV/bin/python" -W ignore -c \
      'import crypt,sys; sys.exit(crypt.METHOD_BLOWFISH not in crypt.methods)' 2>/dev/null; then
    _log "stdlib crypt has no bcrypt: pip install bcrypt"
    "$VENV/bin/python" -m pip install -qq bcrypt
  fi
}

_apt_install_missing
_venv
export REPO_ROOT VENV
