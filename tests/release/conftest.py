"""Fixtures for the release-script interface: the in-memory provider behind the API and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import modelport.plugins as plugins
from modelport.cli import main
from modelport.plugins import load_providers
from modelport.testing.memory import MemoryPlugin, MemoryProvider

from tests.engine.conftest import memory_session


@pytest.fixture
def memory(tmp_path):
    """``(provider, session)``: a session whose only provider is a fresh in-memory one."""
    provider = MemoryProvider()
    with memory_session(tmp_path, provider) as session:
        yield provider, session


@pytest.fixture
def cli(memory, monkeypatch):
    """``cli(*args) -> (exit_code, stdout, stderr)``: the ``modelport`` command on the same state
    store and provider as ``memory``'s session (its plugins are the only ones loaded)."""
    provider, session = memory
    monkeypatch.setattr(plugins, "_default",
                        load_providers({"memory": MemoryPlugin(provider)}, use_entry_points=False))

    def run(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(main, ["--state", str(session.state.path), *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return run


def journal_killed(state_path, kind: str, steps: list[dict], context: dict, done: int) -> None:
    """Journal an operation from another process that then dies (as after a SIGKILL)."""
    script = ("import json, sys; from modelport.state import StateStore\n"
              "path, kind, steps, context, done = json.loads(sys.argv[1])\n"
              "store = StateStore(path)\n"
              "op = store.begin_operation('demo', kind, ['mem'], 'modelport swap (a killed process)', steps, context)\n"
              "store.step_done(op, done)\n")
    subprocess.run([sys.executable, "-c", script, json.dumps([str(state_path), kind, steps, context, done])],
                   check=True, timeout=60)


def lock_by_dead_process(state_path, name: str = "demo") -> None:
    """Take ``name``'s lock in a process that then exits without releasing it (a dead holder)."""
    script = ("import os, sys; from modelport.state import StateStore\n"
              "StateStore(sys.argv[1]).acquire_lock(sys.argv[2], 'modelport deploy (killed)')\n"
              "os._exit(0)\n")
    subprocess.run([sys.executable, "-c", script, str(state_path), name], check=True, timeout=60)
