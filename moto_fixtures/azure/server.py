"""ArmEmulator: the HTTPS server (uvicorn in a thread) around :class:`ArmService`."""
from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

import uvicorn

from . import addresses
from .app import build_app
from .limits import aci_limits
from .monitor import Monitor
from .runtime import DockerRuntime
from .apps_ingress import IngressHost
from .apps_service import AppsService
from .service import ArmService
from .tls import make_tls_files


class EmulatorStartError(RuntimeError):
    """The HTTPS server did not come up."""


class ArmEmulator:
    """A local Azure Resource Manager endpoint for Container Instances over HTTPS.

    ``start()`` returns the base URL; ``ca_pem`` is the CA file clients pass as
    ``connection_verify``. ``quotas`` overrides entries of limits.toml's default quotas (for
    example GPU cores, which default to 0 like a new subscription). ``stop()`` removes every
    Docker container the emulator started.
    """

    def __init__(self, docker_host: str | None = None, host: str = "127.0.0.1", port: int = 0,
                 quotas: dict | None = None):
        self.host = host
        self.port = port
        self.instance_id = uuid.uuid4().hex[:12]
        limits = aci_limits()
        self.runtime = DockerRuntime(docker_host, self.instance_id)
        self.service = ArmService(self.runtime, limits, {**limits.quotas, **(quotas or {})})
        self.service.apps = AppsService(self.service, self.runtime)
        self._dir: Path | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._monitor: Monitor | None = None
        self.base_url = ""

    @property
    def ca_pem(self) -> str:
        """Path of the test CA certificate (PEM)."""
        if self._dir is None:
            raise EmulatorStartError("the emulator is not started")
        return str(self._dir / "ca.pem")

    def add_resource_group(self, subscription_id: str, name: str, location: str = "eastus"):
        """Create a resource group without going through HTTP."""
        self.service.put_resource_group(subscription_id, name, {"location": location})

    def set_tenant(self, subscription_id: str, tenant_id: str) -> None:
        """Put a subscription in a tenant (by default each subscription is its own tenant);
        TenantReuse DNS labels are shared by the subscriptions of one tenant."""
        with self.service.lock:
            self.service.tenants[subscription_id.lower()] = tenant_id

    def hold_dns_name(self, location: str, label: str) -> str:
        """Model another Azure customer holding ``label`` in ``location`` with the default
        (Unsecure) scope, outside this emulator: a group asking for that fqdn is refused.
        Returns the fqdn."""
        from .dns import fqdn
        from .model import normalize_location

        name = fqdn(label, "Unsecure", normalize_location(location), "", "", "")
        with self.service.lock:
            self.service.foreign_fqdns.add(name)
        return name

    def start(self) -> str:
        """Start serving; returns the base URL (https://127.0.0.1:PORT)."""
        self._dir = Path(tempfile.mkdtemp(prefix="arm-emulator-"))
        tls = make_tls_files(self._dir)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self.base_url = f"https://{self.host}:{self.port}"
        self.service.base_url = self.base_url
        config = uvicorn.Config(build_app(self.service), ssl_keyfile=str(tls.key_pem),
                                ssl_certfile=str(tls.cert_pem), log_level="warning",
                                lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="arm-emulator", daemon=True)
        self._thread.start()
        self._wait_started()
        self.service.apps.tls_dir = self._dir
        self.service.apps.ingress = IngressHost()
        self._monitor = Monitor(self.service)
        self._monitor.start()
        return self.base_url

    def _wait_started(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise EmulatorStartError(f"ARM emulator did not start on {self.base_url}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop serving and remove every container and file the emulator created."""
        if self._monitor is not None:
            self._monitor.stop()
        self.service.join_workers(timeout=30)
        self.service.apps.close()
        self.runtime.remove_all()
        for group in list(self.service.groups.values()):
            addresses.release(group.ip)
        self.runtime.close()
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(10)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "ArmEmulator":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
