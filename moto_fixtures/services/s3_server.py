"""moto's S3 as a server that handles one request at a time: ``python s3_server.py --port N``.

S3 applies conditional writes atomically: "If multiple conditional writes occur for the same
object name, the first write operation to finish succeeds"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html). moto checks
``If-None-Match``/``If-Match`` and then writes in two steps, so under its default threaded
server two racing writers can both pass the check. Serving requests one by one restores the
atomicity the lock tests rely on (each request takes milliseconds).
"""

from __future__ import annotations

import argparse

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    """Serve moto (all services; S3 is what is used) on 127.0.0.1:PORT, one request at a time."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    run_simple("127.0.0.1", args.port, DomainDispatcherApplication(create_backend_app),
               threaded=False, use_reloader=False)


if __name__ == "__main__":
    main()
