"""A private Docker engine: its own dockerd on its own unix socket, host networking only."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import docker

from moto_fixtures.services._procs import (
    ServiceError, pid_alive, pid_cmdline, spawn, stop_pid, unmount_under, wait_until,
)

# Persistent so image layers and build cache survive between runs on the same machine.
PERSISTENT_ROOT = Path(os.environ.get("MODELPORT_TEST_ROOT", "/var/lib/modelport-test"))
# Unix socket paths must stay below 108 bytes; containerd nests its own sockets further down.
_MAX_SOCK_DIR = 60


class DockerEngine:
    """A private ``dockerd`` (``--bridge=none --iptables=false``), started and stopped by pid.

    Use as a context manager or call :meth:`start` / :meth:`stop`.  The data-root is
    ``/var/lib/modelport-test/docker`` when no other engine holds it (an flock, inherited by
    dockerd, marks it taken); otherwise a temporary data-root is used and removed on stop.
    ``die_with_parent=True`` (the pytest fixture) stops dockerd if the starting process dies.
    """

    def __init__(self, run_dir: Path | None = None, data_root: Path | None = None,
                 die_with_parent: bool = False) -> None:
        self.die_with_parent = die_with_parent
        self.run_dir = Path(run_dir) if run_dir else None
        self.data_root = Path(data_root) if data_root else None
        self.pid: int | None = None
        self.sock_dir: Path | None = None
        self.temp_data_root = False
        self.temp_sock_dir = False
        self.on_spawn: Callable[[DockerEngine], None] | None = None
        self._proc: subprocess.Popen | None = None
        self._lock_fd: int | None = None

    @property
    def url(self) -> str:
        """``unix://…/docker.sock``: the value for DOCKER_HOST."""
        return f"unix://{self.sock_dir}/docker.sock"

    @property
    def log_path(self) -> Path:
        """Where dockerd's output goes."""
        return (self.run_dir or self.sock_dir) / "dockerd.log"

    def client(self, timeout: int = 600) -> docker.DockerClient:
        """A Docker SDK client for this engine (long timeout: builds and pushes are slow)."""
        return docker.DockerClient(base_url=self.url, timeout=timeout)

    def start(self) -> "DockerEngine":
        """Start dockerd and wait until its socket answers a ping."""
        self._choose_dirs()
        self._choose_data_root()
        exec_root = self.sock_dir / "x"
        argv = [_dockerd(), "--host", self.url, "--data-root", str(self.data_root),
                "--exec-root", str(exec_root), "--pidfile", str(self.sock_dir / "dockerd.pid"),
                "--iptables=false", "--bridge=none", "--ip-masq=false"]
        fds = (self._lock_fd,) if self._lock_fd is not None else ()
        self._proc = spawn(argv, self.log_path, pass_fds=fds, die_with_parent=self.die_with_parent)
        self.pid = self._proc.pid
        if self.on_spawn:
            self.on_spawn(self)
        try:
            wait_until(self._answers, lambda: self._proc.poll() is None, timeout=180,
                       what=f"dockerd (pid {self.pid})", log_path=self.log_path)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Remove this engine's containers, stop dockerd by pid, drop temporary directories."""
        if self.pid is not None and self._is_our_dockerd():
            self._remove_containers()
            stop_pid(self.pid, self._proc, timeout=30)
        if self.pid is not None and not pid_alive(self.pid):
            unmount_under(self.sock_dir / "x")
            unmount_under(self.data_root)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        if self.temp_data_root and self.data_root:
            shutil.rmtree(self.data_root, ignore_errors=True)
        if self.temp_sock_dir and self.sock_dir:
            shutil.rmtree(self.sock_dir, ignore_errors=True)
        elif self.sock_dir:
            shutil.rmtree(self.sock_dir / "x", ignore_errors=True)  # the exec-root
        self.pid = None

    def to_state(self) -> dict:
        """What :meth:`from_state` needs to stop this engine from another process."""
        return {"pid": self.pid, "run_dir": str(self.run_dir) if self.run_dir else None,
                "sock_dir": str(self.sock_dir), "data_root": str(self.data_root),
                "temp_data_root": self.temp_data_root, "temp_sock_dir": self.temp_sock_dir}

    @classmethod
    def from_state(cls, state: dict) -> "DockerEngine":
        """An engine handle (for :meth:`stop`) rebuilt from :meth:`to_state` output."""
        engine = cls(run_dir=Path(state["run_dir"]) if state.get("run_dir") else None,
                     data_root=Path(state["data_root"]))
        engine.pid = state["pid"]
        engine.sock_dir = Path(state["sock_dir"])
        engine.temp_data_root = state["temp_data_root"]
        engine.temp_sock_dir = state["temp_sock_dir"]
        return engine

    def __enter__(self) -> "DockerEngine":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _choose_dirs(self) -> None:
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.run_dir is not None and len(str(self.run_dir)) <= _MAX_SOCK_DIR:
            self.sock_dir = self.run_dir
        else:
            self.sock_dir = Path(tempfile.mkdtemp(prefix="mpd-", dir="/tmp"))
            self.temp_sock_dir = True

    def _choose_data_root(self) -> None:
        """The persistent data-root if free, else a temporary one (two dockerds must not share)."""
        if self.data_root is not None:
            return
        PERSISTENT_ROOT.mkdir(parents=True, exist_ok=True)
        fd = os.open(PERSISTENT_ROOT / "docker.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self.data_root = Path(tempfile.mkdtemp(prefix="docker-tmp-", dir=PERSISTENT_ROOT))
            self.temp_data_root = True
            return
        # dockerd inherits the fd, so the lock lives exactly as long as the engine does.
        os.set_inheritable(fd, True)
        self._lock_fd = fd
        self.data_root = PERSISTENT_ROOT / "docker"

    def _answers(self) -> bool:
        try:
            client = docker.DockerClient(base_url=self.url, timeout=5)
        except Exception:  # not up yet: socket missing, connection refused
            return False
        try:
            return bool(client.ping())
        except Exception:  # socket there, API not ready (5xx)
            return False
        finally:
            client.close()

    def _is_our_dockerd(self) -> bool:
        """Guard against a recycled pid: the process must be dockerd serving our socket."""
        if not pid_alive(self.pid):
            return False
        argv = pid_cmdline(self.pid)
        return bool(argv) and argv[0].endswith("dockerd") and self.url in argv

    def _remove_containers(self) -> None:
        try:
            client = docker.DockerClient(base_url=self.url, timeout=60)
        except Exception:  # a wedged engine must still be stopped; its pid is what counts
            return
        try:
            for container in client.containers.list(all=True):
                container.remove(force=True)
        except Exception:  # same: never let cleanup block the stop
            pass
        finally:
            client.close()


def _dockerd() -> str:
    path = shutil.which("dockerd") or ("/usr/sbin/dockerd" if os.path.exists("/usr/sbin/dockerd") else None)
    if path is None:
        raise ServiceError("dockerd is not installed: apt-get install -y docker.io "
                           "(scripts/bootstrap.sh does it)")
    return path
