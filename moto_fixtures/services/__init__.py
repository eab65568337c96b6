"""Live helper services for the tests and the scripts: a private Docker engine, registries, the
offline Python base image.

Everything here starts real processes and stops exactly those, by pid:

* :class:`DockerEngine` -- a private ``dockerd`` (host networking only) on its own unix socket.
* :class:`Registry` -- a CNCF distribution 2.8 registry (``docker-registry serve``) on a free
  127.0.0.1 port, optionally behind htpasswd basic auth and with push notifications.
* :func:`ensure_base_image` -- ``modelport-base:bookworm`` built with debootstrap (no network
  registry needed), cached as a rootfs tarball between runs.

The scripts drive the same code through a small CLI (:mod:`moto_fixtures.services.cli`)::

    python -m moto_fixtures.services up --run-dir DIR    # engine + base image; writes DIR/env
    python -m moto_fixtures.services down --run-dir DIR  # stops what `up` started, by pid
"""

from moto_fixtures.services._procs import ServiceError
from moto_fixtures.services.base_image import BASE_IMAGE, ensure_base_image
from moto_fixtures.services.engine import DockerEngine
from moto_fixtures.services.registry import Registry

__all__ = ["BASE_IMAGE", "DockerEngine", "Registry", "ServiceError", "ensure_base_image"]
