"""moto in server mode as a separate process: the AWS control plane of the emulation."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx

from .moto_process import AGENT_PATH
from .net import EmulationStartError, free_port, wait_for_tcp

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
ADMIN_USER = "moto-fixtures-admin"
ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
STARTUP_TIMEOUT = 120.0  # seconds for the moto process to listen
# create_user + attach_user_policy + create_access_key run before enforcement starts.
_BOOTSTRAP_ACTIONS = 3


@dataclass(frozen=True)
class Credentials:
    """An access key pair, as boto3 takes it."""

    aws_access_key_id: str
    aws_secret_access_key: str

    def as_env(self) -> dict[str, str]:
        """The standard environment variables boto3's credential chain reads."""
        return {"AWS_ACCESS_KEY_ID": self.aws_access_key_id,
                "AWS_SECRET_ACCESS_KEY": self.aws_secret_access_key}


def _moto_server_command(port: int) -> list[str]:
    # A script path, not ``-m``: the server process needs only moto, not this repo on sys.path.
    return [sys.executable, str(Path(__file__).with_name("moto_process.py")), "--port", str(port),
            "--parent-pid", str(os.getpid())]


class MotoAws:
    """A moto server process on a free 127.0.0.1 port.

    With ``enforce_iam`` the server starts with ``INITIAL_NO_AUTH_ACTION_COUNT`` set so that only
    the bootstrap of an administrator user runs unauthenticated; every later call must be signed by
    an IAM user whose policies allow it. ``admin`` holds that user's keys (or the dummy keys when
    enforcement is off). AWS managed policies are always loaded, as in a real account.
    """

    def __init__(self, enforce_iam: bool = False, region: str = REGION):
        self.enforce_iam = enforce_iam
        self.region = region
        self.port = 0
        self.admin = Credentials(**DUMMY_CREDENTIALS)
        self._proc: subprocess.Popen | None = None
        self._logdir: str | None = None
        self._clients: dict[tuple, object] = {}
        self._clients_lock = threading.Lock()

    @property
    def endpoint_url(self) -> str:
        """The URL every boto3 client of the emulation uses as ``endpoint_url``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MotoAws":
        """Start the server, wait until it answers, bootstrap the admin user when enforcing IAM."""
        self.port = free_port()
        self._logdir = tempfile.mkdtemp(prefix="moto-aws-")
        env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true", MOTO_PORT=str(self.port),
                   **_dummy_env(self.region))
        if self.enforce_iam:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(_BOOTSTRAP_ACTIONS)
        log = open(Path(self._logdir) / "moto.log", "wb")
        self._proc = subprocess.Popen(_moto_server_command(self.port), env=env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        try:
            # The process imports every patched moto backend before it listens (ECS, ELBv2, Secrets
            # Manager, Logs, Application Auto Scaling: ~5 s idle, much more on a loaded machine).
            wait_for_tcp("127.0.0.1", self.port, STARTUP_TIMEOUT, "moto server")
            if self.enforce_iam:
                self.admin = self._bootstrap_admin()
        except Exception:
            self.stop()
            raise
        return self

    def client(self, service: str, credentials: Credentials | None = None):
        """A boto3 client for ``service`` against this server (admin credentials by default).

        Clients are cached per (service, credentials): the bridge asks for them on every pass.
        """
        import boto3

        creds = credentials or self.admin
        key = (service, creds, self.port)
        with self._clients_lock:
            if key not in self._clients:
                # A private session: boto3's default session is not safe to share across threads.
                session = boto3.session.Session(
                    aws_access_key_id=creds.aws_access_key_id,
                    aws_secret_access_key=creds.aws_secret_access_key, region_name=self.region)
                self._clients[key] = session.client(service, endpoint_url=self.endpoint_url)
            return self._clients[key]

    def _bootstrap_admin(self) -> Credentials:
        iam = self.client("iam", Credentials(**DUMMY_CREDENTIALS))
        iam.create_user(UserName=ADMIN_USER)
        iam.attach_user_policy(UserName=ADMIN_USER, PolicyArn=ADMIN_POLICY_ARN)
        key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
        return Credentials(key["AccessKeyId"], key["SecretAccessKey"])

    def report_service_state(self, service_arn: str, cluster_arn: str, running: int,
                             healthy: bool, failed_tasks: int = 0,
                             events: list[str] | None = None) -> dict:
        """Tell ECS how many of a service's tasks run, and what happened to them (the ECS
        agent's job; see moto_process)."""
        reply = httpx.post(f"{self.endpoint_url}{AGENT_PATH}", timeout=10, json={
            "serviceArn": service_arn, "clusterArn": cluster_arn, "running": running,
            "healthy": healthy, "failedTasks": failed_tasks, "events": events or []})
        reply.raise_for_status()
        return reply.json()

    def reset(self) -> None:
        """Forget every resource (moto's ``/moto-api/reset``); IAM enforcement stays as it was."""
        httpx.post(f"{self.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
        if self.enforce_iam:
            httpx.post(f"{self.endpoint_url}/moto-api/reset-auth",
                       content=str(_BOOTSTRAP_ACTIONS), timeout=10).raise_for_status()
            self.admin = self._bootstrap_admin()
        with self._clients_lock:
            self._clients.clear()

    def log_text(self) -> str:
        """The server's output so far (for diagnosing a failed call that answered HTTP 500)."""
        if not self._logdir:
            return ""
        path = Path(self._logdir) / "moto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the server process (by its pid) and remove its log directory."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._logdir:
            shutil.rmtree(self._logdir, ignore_errors=True)
            self._logdir = None

    def is_running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> "MotoAws":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _dummy_env(region: str) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": region}


def raise_if_dead(server: MotoAws) -> None:
    """Raise ``EmulationStartError`` with the server log tail when the moto process has exited."""
    if not server.is_running():
        raise EmulationStartError("moto server exited:\n" + server.log_text()[-2000:])
