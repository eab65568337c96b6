"""``python -m moto_fixtures.services up|down --run-dir DIR``: what the scripts call."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

import docker

from moto_fixtures.services._procs import ServiceError
from moto_fixtures.services.base_image import BASE_IMAGE, ensure_base_image
from moto_fixtures.services.engine import DockerEngine
from moto_fixtures.services.statestores import SERVERS

STATE_FILE = "services.json"
ENV_FILE = "env"


def _log(message: str) -> None:
    print(f"[services] {message}", file=sys.stderr, flush=True)


def up(run_dir: Path, base_image: str = BASE_IMAGE, with_base_image: bool = True,
       state_stores: bool = False) -> dict[str, str]:
    """Start a private engine (and ensure the base image on it); write DIR/env and DIR/services.json.
    With ``state_stores`` also PostgreSQL, moto's S3 and Azurite (the shared state backends'
    servers), once for the whole test run: the tests read where from the env file.

    Returns the environment variables written to the env file.  If anything fails after the
    engine started, the engine is stopped again before the error propagates.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    engine = DockerEngine(run_dir=run_dir)
    # The state file is written as soon as dockerd has a pid, so `down` can stop it even if
    # this process is interrupted while waiting for the socket.
    engine.on_spawn = lambda eng: _write_state(run_dir, eng)
    try:
        engine.start()
        _log(f"started dockerd pid {engine.pid} at {engine.url} (data-root {engine.data_root})")
        if with_base_image:
            client = engine.client()
            try:
                ensure_base_image(client, base_image, log=_log)
            finally:
                client.close()
        env = {"DOCKER_HOST": engine.url, "MODELPORT_BASE_IMAGE": base_image}
        if state_stores:
            env.update(_start_state_stores(run_dir, engine))
        _write_env(run_dir, env)
        return env
    except BaseException:
        _stop_state_stores(run_dir)
        engine.stop()
        (run_dir / STATE_FILE).unlink(missing_ok=True)
        raise


def _start_state_stores(run_dir: Path, engine: DockerEngine) -> dict[str, str]:
    """Start each state-store server, recording its pid in services.json as soon as it runs."""
    env: dict[str, str] = {}
    for kind, cls in SERVERS.items():
        server = cls().start()
        state = json.loads((run_dir / STATE_FILE).read_text())
        state.setdefault("state_stores", {})[kind] = server.to_state()
        (run_dir / STATE_FILE).write_text(json.dumps(state, indent=2))
        _log(f"started {kind} pid {server.pid} on port {server.port}")
        env.update(server.env())
    return env


def _stop_state_stores(run_dir: Path) -> None:
    state_path = run_dir / STATE_FILE
    if not state_path.exists():
        return
    for kind, saved in json.loads(state_path.read_text()).get("state_stores", {}).items():
        _log(f"stopping {kind} pid {saved['pid']}")
        try:
            SERVERS[kind].from_state(saved).stop()
        except ServiceError as exc:
            _log(f"could not stop {kind}: {exc}")


def down(run_dir: Path) -> None:
    """Stop what :func:`up` started in ``run_dir`` (by the pid it recorded); no-op if nothing."""
    state_path = run_dir / STATE_FILE
    if not state_path.exists():
        _log(f"nothing to stop in {run_dir}")
        return
    _stop_state_stores(run_dir)
    engine = DockerEngine.from_state(json.loads(state_path.read_text())["engine"])
    _log(f"stopping dockerd pid {engine.pid} ({engine.url})")
    engine.stop()
    state_path.unlink(missing_ok=True)
    (run_dir / ENV_FILE).unlink(missing_ok=True)
    (run_dir / "engine.pid").unlink(missing_ok=True)
    _log("stopped")


def _write_state(run_dir: Path, engine: DockerEngine) -> None:
    (run_dir / STATE_FILE).write_text(json.dumps({"engine": engine.to_state()}, indent=2))
    (run_dir / "engine.pid").write_text(f"{engine.pid}\n")


def _write_env(run_dir: Path, env: dict[str, str]) -> None:
    lines = [f"export {key}={shlex.quote(value)}" for key, value in env.items()]
    (run_dir / ENV_FILE).write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: ``up`` / ``down`` / ``base-image`` (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m moto_fixtures.services")
    parser.add_argument("command", choices=["up", "down", "base-image"])
    parser.add_argument("--run-dir", type=Path, help="where pid, state and env files go")
    parser.add_argument("--base-image", default=os.environ.get("MODELPORT_BASE_IMAGE", BASE_IMAGE))
    parser.add_argument("--no-base-image", action="store_true", help="up: skip the base image")
    parser.add_argument("--state-stores", action="store_true",
                        help="up: also start PostgreSQL, moto's S3 and Azurite for the state backend tests")
    args = parser.parse_args(argv)
    try:
        if args.command == "base-image":
            # Against whatever DOCKER_HOST points at (handy for a long-lived dev engine).
            ensure_base_image(docker.from_env(), args.base_image, log=_log)
            return 0
        if args.run_dir is None:
            parser.error("--run-dir is required for up/down")
        if args.command == "up":
            env = up(args.run_dir.resolve(), args.base_image, not args.no_base_image, args.state_stores)
            for key, value in env.items():
                _log(f"{key}={value}" if "AccountKey" not in value else f"{key}=(connection string; key not shown)")
            _log(f"env file: {args.run_dir.resolve() / ENV_FILE}")
        else:
            down(args.run_dir.resolve())
        return 0
    except ServiceError as exc:
        _log(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
