"""A local Cloud Run Admin API v2 that the official `google-cloud-run` client talks to unmodified.

    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import run_v2
    from moto_fixtures.gcp import CloudRunEmulator

    with CloudRunEmulator() as emulator:           # DOCKER_HOST from the environment
        client = run_v2.ServicesClient(
            credentials=AnonymousCredentials(), transport="rest",
            client_options=ClientOptions(api_endpoint=emulator.endpoint))
        ...

Control plane: services, revisions, traffic, IAM, long-running operations, with the real API's
validation (sizes from limits.toml). Data plane: each revision that receives traffic runs on the
Docker engine; each service's `uri` is a local router splitting requests by traffic percent.
Standalone: ``python -m moto_fixtures.gcp --port 8085``.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from .api import Api
from .limits import load_limits
from .reconcile import Reconciler
from .revisions import RevisionsApi
from .router import RouterHost
from .runtime import DockerRuntime
from .server import LoopThread
from .services import ControlPlane
from .state import Store
from .tokens import TokenIssuer

__all__ = ["CloudRunEmulator"]


class CloudRunEmulator:
    """The emulator: start() returns the API endpoint URL; stop() removes every container.

    docker_host: Docker engine URL (default: $DOCKER_HOST). secrets: Secret Manager values for
    env vars given by reference, as {"name" or "projects/P/secrets/name": value or
    {"latest": value, "1": value}}. grace_s: how long a revision left without traffic keeps
    running. enforce_invoker_iam: service URLs of private services (the default) need an ID token
    for the service URL from the emulator's token endpoint (``token_uri``), whose caller holds an
    invoker role on the service or the project (``write_credentials`` hands out a key file).
    operation_delay_s: the least time a write's operation (and its reconciliation) takes; real
    Cloud Run operations take seconds, the default keeps tests quick while an operation is still
    never done in its first answer.
    """

    def __init__(self, docker_host: str | None = None, host: str = "127.0.0.1", port: int = 0,
                 secrets: dict | None = None, grace_s: float = 3.0,
                 limits_file: str | None = None, enforce_invoker_iam: bool = True,
                 operation_delay_s: float = 0.3):
        self.docker_host = docker_host
        self.host, self.port = host, port
        self.secrets = dict(secrets or {})
        self.grace_s = grace_s
        self.enforce_invoker_iam = enforce_invoker_iam
        self.operation_delay_s = operation_delay_s
        self.limits = load_limits(limits_file)
        self.endpoint: str | None = None
        self.tokens = TokenIssuer()
        self.project_roles: dict[str, set[str]] = {}  # member -> roles granted on the project
        self._loop: LoopThread | None = None
        self._served = None
        self._metadata_served: list = []

    def start(self) -> str:
        """Start the API server and return its endpoint, e.g. http://127.0.0.1:40123."""
        if self.endpoint:
            return self.endpoint
        self.store = Store()
        self.runtime = DockerRuntime(self.docker_host, self.secrets)
        self._loop = LoopThread()
        routers = RouterHost(self._loop, self.host, self.enforce_invoker_iam,
                             self.limits.request_timeout["timeout_http_status"], tokens=self.tokens,
                             project_invokers=self._project_invokers)
        self.reconciler = Reconciler(self.store, self.runtime, routers, grace_s=self.grace_s,
                                     min_delay_s=self.operation_delay_s)
        self.control = ControlPlane(self.store, self.limits, self.reconciler, routers)
        self.revisions = RevisionsApi(self.store, self.reconciler)
        self._routers = routers
        self._served = self._loop.serve(Api(self).app, self.host, self.port)
        self.endpoint = self._served.url
        return self.endpoint

    @property
    def token_uri(self) -> str:
        """The OAuth 2.0 token endpoint of the emulated Google identity (key files point here)."""
        return f"{self.endpoint}/token"

    def write_credentials(self, folder, project: str = "modelport-test",
                          role: str | None = "roles/run.admin") -> Path:
        """A new service account's key file in ``folder`` (what ``gcloud iam service-accounts keys
        create`` writes), for ``GOOGLE_APPLICATION_CREDENTIALS``; the account holds ``role`` on the
        project (run.admin deploys and invokes, as a deployer's account does; None: no role)."""
        path = self.tokens.write_key_file(Path(folder), project, self.token_uri)
        if role:
            email = json.loads(path.read_text())["client_email"]
            self.project_roles.setdefault(f"serviceAccount:{email}", set()).add(role)
        return path

    def write_user_credentials(self, folder, project: str = "modelport-test", role: str | None = "roles/run.admin",
                               client_id: str | None = None) -> Path:
        """A user's login file (``authorized_user``, what ``gcloud auth application-default login``
        writes; ``client_id`` default: that command's client) in ``folder``; the user holds
        ``role`` on the project."""
        from .tokens import ADC_CLIENT_ID

        email = f"user-{secrets.token_hex(3)}@example.com"
        if role:
            self.project_roles.setdefault(f"user:{email}", set()).add(role)
        info = self.tokens.user_credentials(email, self.token_uri, client_id or ADC_CLIENT_ID)
        path = Path(folder) / f"adc-{secrets.token_hex(4)}.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps(info, indent=2))
        return path

    def metadata_server(self, project: str = "modelport-test", role: str | None = "roles/run.admin") -> str:
        """Start the metadata server of a machine whose attached service account holds ``role`` on
        the project (metadata.py); returns its ``host:port`` for ``GCE_METADATA_HOST`` and
        ``GCE_METADATA_IP``, google-auth's settings for where the metadata server is."""
        from .metadata import MetadataServer

        email = f"compute-{secrets.token_hex(3)}@{project}.iam.gserviceaccount.com"
        if role:
            self.project_roles.setdefault(f"serviceAccount:{email}", set()).add(role)
        served = self._loop.serve(MetadataServer(self.tokens, email, project).app, self.host)
        self._metadata_served.append(served)
        return f"{served.host}:{served.port}"

    def id_token(self, audience: str, email: str | None = None, **kwargs) -> str:
        """An ID token this emulator signs for ``audience`` (default caller: the first account
        given a project role), e.g. for a plain HTTP client in tests."""
        caller = email or next((m.split(":", 1)[1] for m in self.project_roles), "nobody@example.com")
        return self.tokens.id_token(audience.rstrip("/"), caller, **kwargs)

    def _project_invokers(self) -> set[str]:
        from .iam import INVOKER_ROLES

        return {m for m, roles in self.project_roles.items() if roles & INVOKER_ROLES}

    def add_secret(self, name: str, value: str, version: str = "latest") -> None:
        """Make a Secret Manager secret available to env vars that reference it."""
        self.secrets.setdefault(name, {})[version] = value

    def stop(self) -> None:
        """Stop routers and the API, and remove every container this emulator created."""
        if not self.endpoint:
            return
        self.runtime.closing.set()
        self.reconciler.close()
        with self.store.lock:
            records = list(self.store.services.values())
        for record in records:
            self._routers.close(record)
        for served in self._metadata_served:
            self._loop.stop_serving(served)
        self._metadata_served = []
        self._loop.stop_serving(self._served)
        self.runtime.close()
        self._loop.close()
        self.endpoint = None

    def __enter__(self) -> "CloudRunEmulator":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
