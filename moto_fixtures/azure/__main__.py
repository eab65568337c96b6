"""``python -m moto_fixtures.azure --port N``: run the ARM emulator until interrupted."""
from __future__ import annotations

import argparse
import signal
import threading

from .server import ArmEmulator


def main(argv: list[str] | None = None) -> None:
    """Start the emulator, print its base URL and CA path, serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m moto_fixtures.azure")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--docker-host", default=None)
    parser.add_argument("--subscription", default="00000000-0000-0000-0000-000000000000")
    parser.add_argument("--resource-group", action="append", default=[],
                        help="resource group to pre-create (repeatable)")
    parser.add_argument("--location", default="eastus")
    args = parser.parse_args(argv)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    emulator = ArmEmulator(docker_host=args.docker_host, port=args.port)
    emulator.start()
    try:
        for rg in args.resource_group:
            emulator.add_resource_group(args.subscription, rg, args.location)
        print(f"base_url={emulator.base_url}", flush=True)
        print(f"ca_pem={emulator.ca_pem}", flush=True)
        done.wait()
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
