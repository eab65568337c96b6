"""A live OCI registry: CNCF distribution 2.8 (``docker-registry serve``) on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Sequence
from pathlib import Path

from moto_fixtures.services._procs import (
    ServiceError, free_port, spawn, stop_pid, wait_until,
)

# Defaults for a notification endpoint: quick retries so a test's webhook sees events promptly.
_ENDPOINT_DEFAULTS = {"timeout": "2s", "threshold": 3, "backoff": "1s"}


class Registry:
    """A registry with filesystem storage in a temp dir, deletes enabled, stopped by pid.

    ``username``/``password`` put it behind htpasswd basic auth.  ``notifications`` are
    endpoint dicts as in distribution's ``notifications.endpoints`` (``name``, ``url``, optional
    ``headers``/``timeout``/``threshold``/``backoff``/``ignoredmediatypes``) or plain URLs;
    the registry POSTs push/pull/delete event envelopes to them.  By default the registry
    is SIGTERMed by the kernel if the thread that started it dies (no leak when pytest is
    killed); pass ``die_with_parent=False`` when starting it from a short-lived thread.
    """

    def __init__(self, username: str | None = None, password: str | None = None,
                 notifications: Sequence[dict | str] | None = None,
                 host: str = "127.0.0.1", die_with_parent: bool = True) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.username = username
        self.password = password
        self.notifications = list(notifications or [])
        self.bind_host = host
        self.die_with_parent = die_with_parent
        self.port: int | None = None
        self.pid: int | None = None
        self.dir: Path | None = None
        self._proc: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: the registry part of an image reference."""
        return f"{self.bind_host}:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}"

    @property
    def log_path(self) -> Path:
        """The registry's own log (removed with its storage on stop)."""
        return self.dir / "registry.log"

    def start(self) -> "Registry":
        """Start the registry on a free port and wait until ``/v2/`` answers."""
        self.dir = Path(tempfile.mkdtemp(prefix="mp-registry-"))
        (self.dir / "storage").mkdir()
        if self.username is not None:
            (self.dir / "htpasswd").write_text(f"{self.username}:{_bcrypt(self.password)}\n")
        last_error: ServiceError | None = None
        for _attempt in range(3):  # another process may grab the port between pick and bind
            self.port = free_port(self.bind_host)
            try:
                self._spawn_and_wait()
                return self
            except ServiceError as exc:
                last_error = exc
                self._stop_process()
        self._remove_dir()
        raise last_error

    def stop(self) -> None:
        """Stop the registry process by pid and delete its storage."""
        self._stop_process()
        self._remove_dir()

    def __enter__(self) -> "Registry":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def config(self) -> dict:
        """The registry configuration (JSON is valid YAML, so it is written as JSON)."""
        cfg = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.dir / "storage")},
                        "delete": {"enabled": True}},
            "http": {"addr": self.host, "secret": "modelport-test-registry"},
        }
        if self.username is not None:
            cfg["auth"] = {"htpasswd": {"realm": "modelport-test",
                                        "path": str(self.dir / "htpasswd")}}
        if self.notifications:
            cfg["notifications"] = {"endpoints": [_endpoint(n, i)
                                                  for i, n in enumerate(self.notifications)]}
        return cfg

    def _spawn_and_wait(self) -> None:
        config_path = self.dir / "config.yml"
        config_path.write_text(json.dumps(self.config(), indent=2))
        self._proc = spawn([_registry_bin(), "serve", str(config_path)], self.log_path,
                           die_with_parent=self.die_with_parent)
        self.pid = self._proc.pid
        # Generous: on a loaded CI machine start-up can take many seconds.
        wait_until(self._answers, lambda: self._proc.poll() is None, timeout=60,
                   what=f"docker-registry on {self.host}", log_path=self.log_path)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/v2/", timeout=2) as resp:
                return resp.status == 200
        except urllib.error.HTTPError as exc:
            return exc.code == 401  # up, and asking for credentials
        except OSError:
            return False

    def _stop_process(self) -> None:
        if self.pid is not None:
            stop_pid(self.pid, self._proc, timeout=10)
        self.pid = None
        self._proc = None

    def _remove_dir(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


def _endpoint(spec: dict | str, index: int) -> dict:
    if isinstance(spec, str):
        spec = {"url": spec}
    if "url" not in spec:
        raise ValueError(f"notification endpoint {index} needs a url")
    return {"name": f"endpoint-{index}", **_ENDPOINT_DEFAULTS, **spec}


def _bcrypt(password: str) -> str:
    """A bcrypt hash for htpasswd: the registry accepts only bcrypt entries."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # stdlib until 3.13; Debian's libxcrypt does bcrypt
        if crypt.METHOD_BLOWFISH in crypt.methods:
            return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 5))
    except ImportError:
        pass
    try:
        import bcrypt
    except ImportError as exc:
        raise ServiceError("no bcrypt implementation: pip install bcrypt") from exc
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()


def _registry_bin() -> str:
    path = shutil.which("docker-registry")
    if path is None:
        raise ServiceError("docker-registry is not installed: apt-get install -y docker-registry "
                           "(scripts/bootstrap.sh does it)")
    return path

