"""A throw-away CNCF distribution registry (``docker-registry serve``) for tests.

Optionally protected by htpasswd basic auth, like a real ACR with admin credentials, so
``imageRegistryCredentials`` can be exercised.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

_CONFIG = """version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
{auth}"""
_AUTH = """auth:
  htpasswd:
    realm: modelport-test
    path: {path}
"""


class RegistryStartError(RuntimeError):
    """docker-registry did not answer."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalRegistry:
    """``docker-registry serve`` on a free 127.0.0.1 port, stopped by pid."""

    def __init__(self, username: str | None = None, password: str | None = None):
        self.username = username
        self.password = password
        self.port = 0
        self._dir: Path | None = None
        self._proc: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        """host:port, as it appears in image references."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> "LocalRegistry":
        """Start the registry and wait until /v2/ answers."""
        self._dir = Path(tempfile.mkdtemp(prefix="registry-"))
        self.port = _free_port()
        auth = ""
        if self.username:
            import bcrypt
            hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=5)).decode()
            (self._dir / "htpasswd").write_text(f"{self.username}:{hashed}\n")
            auth = _AUTH.format(path=self._dir / "htpasswd")
        config = self._dir / "config.yml"
        config.write_text(_CONFIG.format(root=self._dir / "data", port=self.port, auth=auth))
        self._proc = subprocess.Popen(["docker-registry", "serve", str(config)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True)
        self._wait()
        return self

    def _wait(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                return
            except urllib.error.HTTPError:
                return  # 401 from an authenticated registry: it is up
            except OSError:
                if self._proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RegistryStartError(f"docker-registry did not start on {self.host}")

    def stop(self) -> None:
        """Stop the registry process (by pid) and delete its storage."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self._proc.pid, 9)
                self._proc.wait(5)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "LocalRegistry":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
