"""The real servers behind the shared state backends, each started once and stopped by pid:

* :class:`PostgresServer` -- Debian's PostgreSQL (``initdb`` + ``postgres`` as the ``postgres``
  user, which it insists on), a throw-away cluster on a free 127.0.0.1 port: local socket
  connections trusted (the admin), TCP connections need a password (scram-sha-256), so the
  tests' URLs carry a real one.
* :class:`S3Server` -- moto's S3 (``s3_server.py``), serving one request at a time so that its
  conditional writes are atomic as S3's are.
* :class:`AzuriteServer` -- Microsoft's Azurite blob service (npm ``azurite``), in memory, with a
  storage account whose key is random per start.

Each has ``env()`` (what the tests read: ``MODELPORT_TEST_POSTGRES``, ``MODELPORT_TEST_S3``,
``MODELPORT_TEST_AZURITE``), ``to_state()``/``from_state()`` for ``services down``.
"""

from __future__ import annotations

import base64
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from moto_fixtures.services._procs import ServiceError, free_port, pid_alive, stop_pid, wait_until

AZURITE_ACCOUNT = "mpstate"


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found:
        raise ServiceError("PostgreSQL is not installed: apt-get install -y postgresql (scripts/bootstrap.sh does it)")
    return found[-1].parent


class _Server:
    kind = "server"

    def __init__(self) -> None:
        self.pid: int | None = None
        self.port: int | None = None
        self.dir: Path | None = None
        self._proc: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        """The server's output."""
        return self.dir / f"{self.kind}.log"

    def _spawn(self, argv: list[str], env: dict | None = None, user: str | None = None) -> None:
        with open(self.log_path, "ab") as log:
            try:
                self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                              start_new_session=True, close_fds=True, env=env, user=user,
                                              group=pwd.getpwnam(user).pw_gid if user else None)
            except FileNotFoundError as exc:
                raise ServiceError(f"{argv[0]} is not installed (run scripts/bootstrap.sh)") from exc
        self.pid = self._proc.pid
        wait_until(lambda: _answers(self.port), lambda: self._proc.poll() is None, timeout=90,
                   what=f"{self.kind} on port {self.port}", log_path=self.log_path)

    def stop(self) -> None:
        """Stop the server by its pid and remove its files."""
        if self.pid is not None and pid_alive(self.pid):
            stop_pid(self.pid, self._proc)
        self.pid = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def to_state(self) -> dict:
        """What ``from_state`` needs to stop it from another process."""
        return {"pid": self.pid, "port": self.port, "dir": str(self.dir), "env": self.env()}

    @classmethod
    def from_state(cls, state: dict) -> "_Server":
        """The server a ``to_state`` describes (to stop it)."""
        server = cls.__new__(cls)
        _Server.__init__(server)
        server.pid, server.port, server.dir = state["pid"], state["port"], Path(state["dir"])
        return server

    def start(self):  # pragma: no cover - each server defines it
        raise NotImplementedError

    def env(self) -> dict[str, str]:  # pragma: no cover
        raise NotImplementedError


class PostgresServer(_Server):
    """A throw-away PostgreSQL cluster. ``admin_dsn`` connects as the superuser over the socket."""

    kind = "postgres"

    def start(self) -> "PostgresServer":
        """initdb and start; wait until it accepts connections."""
        bindir = _pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="mp-postgres-"))
        user = "postgres" if os.geteuid() == 0 else None  # the server refuses to run as root
        if user:
            os.chown(self.dir, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
        data = self.dir / "data"
        init = subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--no-sync",
                               "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"],
                              capture_output=True, text=True, user=user,
                              group=pwd.getpwnam(user).pw_gid if user else None)
        if init.returncode != 0:
            raise ServiceError(f"initdb failed: {init.stderr[-1500:]}")
        self.port = free_port()
        # durability off: a test cluster is thrown away (the tests crash clients, not the server)
        self._spawn([str(bindir / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.dir),
                     "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off", "-c", "max_connections=200"], user=user)
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT: ends client sessions), then as the others."""
        if self.pid is not None and pid_alive(self.pid):
            os.kill(self.pid, signal.SIGINT)
        super().stop()

    @property
    def admin_dsn(self) -> str:
        """libpq keywords for the superuser over the unix socket (trusted)."""
        return f"host={self.dir} port={self.port} user=postgres dbname=postgres"

    def env(self) -> dict[str, str]:
        return {"MODELPORT_TEST_POSTGRES": self.admin_dsn}


class S3Server(_Server):
    """moto's S3 on a free port."""

    kind = "s3"

    def start(self) -> "S3Server":
        """Start it; wait until it answers."""
        self.dir = Path(tempfile.mkdtemp(prefix="mp-s3-"))
        self.port = free_port()
        script = Path(__file__).with_name("s3_server.py")
        self._spawn([sys.executable, str(script), "--port", str(self.port)])
        return self

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {"MODELPORT_TEST_S3": self.endpoint}


class AzuriteServer(_Server):
    """Azurite's blob service, in memory, account ``mpstate`` with a random key."""

    kind = "azurite"

    def __init__(self) -> None:
        super().__init__()
        self.key = base64.b64encode(secrets.token_bytes(64)).decode()

    def start(self) -> "AzuriteServer":
        """Start it; wait until it answers."""
        exe = shutil.which("azurite-blob")
        if exe is None:
            raise ServiceError("azurite is not installed: npm install -g azurite (scripts/bootstrap.sh does it)")
        self.dir = Path(tempfile.mkdtemp(prefix="mp-azurite-"))
        self.port = free_port()
        env = {**os.environ, "AZURITE_ACCOUNTS": f"{AZURITE_ACCOUNT}:{self.key}"}
        self._spawn([exe, "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--inMemoryPersistence",
                     "--silent", "--skipApiVersionCheck", "--disableProductStyleUrl"],
                    env=env)
        return self

    @property
    def connection_string(self) -> str:
        """What ``AZURE_STORAGE_CONNECTION_STRING`` holds for it."""
        return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={self.key};"
                f"BlobEndpoint=http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT};")

    def env(self) -> dict[str, str]:
        return {"MODELPORT_TEST_AZURITE": self.connection_string}

    def to_state(self) -> dict:
        return {**super().to_state(), "key": self.key}


SERVERS = {"postgres": PostgresServer, "s3": S3Server, "azurite": AzuriteServer}
