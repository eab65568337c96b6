"""``python -m moto_fixtures.aws``: run the AWS emulation until interrupted (the demo uses it)."""

from __future__ import annotations

import argparse
import os
import signal
import threading

from .emulation import AwsEmulation


def main() -> None:
    """Start the emulation, print how to reach it, and stop everything on SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m moto_fixtures.aws", description=__doc__)
    parser.add_argument("--docker-host", default=None, help="Docker engine for the tasks "
                        "(default: $DOCKER_HOST)")
    parser.add_argument("--enforce-iam", action="store_true",
                        help="require IAM authorization for every call")
    parser.add_argument("--env-file", default=None,
                        help="also write KEY=VALUE lines (endpoint, registry, credentials) here")
    args = parser.parse_args()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with AwsEmulation(docker_host=args.docker_host, enforce_iam=args.enforce_iam,
                      set_env=False) as aws:
        print(f"AWS_ENDPOINT_URL={aws.endpoint_url}")
        print(f"ECR_REGISTRY={aws.registry}")
        print(f"AWS_DEFAULT_REGION={aws.region}")
        if args.env_file:
            _write_env_file(args.env_file, aws)
            print(f"credentials and settings written to {args.env_file}")
        if not args.enforce_iam:  # the dummy keys are no secret; enforced-IAM keys are
            print(f"AWS_ACCESS_KEY_ID={aws.admin.aws_access_key_id}")
            print(f"AWS_SECRET_ACCESS_KEY={aws.admin.aws_secret_access_key}")
        print("ready (Ctrl-C or SIGTERM stops it)", flush=True)
        try:
            done.wait()
        except KeyboardInterrupt:
            pass
        finally:
            if args.env_file and os.path.exists(args.env_file):
                os.remove(args.env_file)  # its keys die with the emulation


def _write_env_file(path: str, aws: AwsEmulation) -> None:
    values = {"AWS_ENDPOINT_URL": aws.endpoint_url, "ECR_REGISTRY": aws.registry,
              "AWS_DEFAULT_REGION": aws.region, **aws.admin.as_env()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.writelines(f"{key}={value}\n" for key, value in values.items())


if __name__ == "__main__":
    main()
