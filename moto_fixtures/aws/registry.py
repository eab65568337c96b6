"""The ECR stand-in: a real OCI registry (CNCF distribution) whose pushes are reported to a webhook."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from .net import EmulationStartError, free_port, wait_for_tcp

_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
notifications:
  endpoints:
    - name: ecr-mirror
      url: {webhook}
      timeout: 5s
      threshold: 3
      backoff: 1s
      ignore:
        mediatypes:
          - application/octet-stream
        actions:
          - pull
"""


class LocalRegistry:
    """``docker-registry serve`` on a free 127.0.0.1 port, storage in a temp dir.

    ``webhook`` is the URL the registry POSTs its notification envelopes to (push events of
    manifests only: blob and pull events are filtered out by the registry itself).
    """

    def __init__(self, webhook: str, binary: str = "docker-registry"):
        self.webhook = webhook
        self.binary = binary
        self.port = 0
        self._dir: str | None = None
        self._proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        """``host:port`` of the registry, what image references start with."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> "LocalRegistry":
        """Write the config, start the registry and wait until it listens."""
        exe = shutil.which(self.binary)
        if exe is None:
            raise EmulationStartError(
                f"{self.binary} not found: install the Debian package docker-registry")
        self.port = free_port()
        self._dir = tempfile.mkdtemp(prefix="moto-aws-registry-")
        config = Path(self._dir) / "config.yml"
        config.write_text(_CONFIG.format(root=Path(self._dir) / "data", port=self.port,
                                         webhook=self.webhook))
        log = open(Path(self._dir) / "registry.log", "wb")
        self._proc = subprocess.Popen([exe, "serve", str(config)], stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        try:
            wait_for_tcp("127.0.0.1", self.port, 20, "docker-registry")
        except EmulationStartError:
            self.stop()
            raise
        return self

    def log_text(self) -> str:
        """The registry's output so far."""
        path = Path(self._dir or "/nonexistent") / "registry.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the registry (by pid) and delete its storage."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
