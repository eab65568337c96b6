"""Command line of the runtime: ``python -m modelport_runtime serve`` (SageMaker passes ``serve``)."""

from __future__ import annotations

import sys

from .config import RuntimeConfig
from .errors import RuntimeConfigError

USAGE = """usage: python -m modelport_runtime serve

Serves the model named by the environment on $PORT (default 8080):
  MODELPORT_MODEL_NAME, MODELPORT_MODEL_VERSION, MODELPORT_MODEL_PATH,
  MODELPORT_FRAMEWORK (sklearn|onnx|custom), MODELPORT_PREDICT_FILE (custom),
  MODELPORT_HOST, MODELPORT_MAX_BODY_BYTES, MODELPORT_WORKERS, MODELPORT_PREDICT_THREADS,
  MODELPORT_INLINE_BELOW_MS, MODELPORT_GRACEFUL_TIMEOUT, MODELPORT_ACCESS_LOG (default true),
  MODELPORT_MAX_BATCH_SIZE (rows per merged model call; 0, the default, is off),
  MODELPORT_MAX_BATCH_DELAY_MS (default 5),
  MODELPORT_API_KEY (when set, every route but /v2/health/live, /v2/health/ready and /ping
  needs "Authorization: Bearer KEY" or "X-API-Key: KEY": 401 without, 403 with a wrong one)
Protocols: Open Inference Protocol v2 (/v2/..., JSON and binary tensors), KServe v1
(/v1/models/NAME:predict), SageMaker (/ping, /invocations); Prometheus metrics at /metrics;
one JSON access-log line per request on standard output."""


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if args and args[0] != "serve":
        print(f"unknown command {args[0]!r}\n{USAGE}", file=sys.stderr)
        return 2
    try:
        config = RuntimeConfig.from_env()
    except RuntimeConfigError as exc:
        print(f"modelport runtime: configuration error: {exc}", file=sys.stderr)
        return 2
    from .server import serve

    return serve(config)


if __name__ == "__main__":
    sys.exit(main())
