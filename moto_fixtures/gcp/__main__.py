"""Run the Cloud Run emulator standalone: ``python -m moto_fixtures.gcp --port 8085``.

Prints the endpoint on the first line of stdout, then serves until SIGINT/SIGTERM, and removes
every container it created on the way out.
"""

from __future__ import annotations

import argparse
import signal
import threading

from . import CloudRunEmulator


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, start the emulator, wait for a signal, stop it."""
    parser = argparse.ArgumentParser(prog="python -m moto_fixtures.gcp",
                                     description="Local Cloud Run Admin API v2 emulator")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="API port (0: any free port)")
    parser.add_argument("--docker-host", default=None, help="Docker engine (default $DOCKER_HOST)")
    parser.add_argument("--grace", type=float, default=3.0,
                        help="seconds a revision left without traffic keeps running")
    parser.add_argument("--no-invoker-iam", action="store_true",
                        help="let every request through service URLs (no 403 for private ones)")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    emulator = CloudRunEmulator(docker_host=args.docker_host, host=args.host, port=args.port,
                                grace_s=args.grace, enforce_invoker_iam=not args.no_invoker_iam)
    print(emulator.start(), flush=True)
    try:
        stop.wait()
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
