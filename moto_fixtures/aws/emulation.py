"""``AwsEmulation``: moto + the ECR stand-in + the ECS and ALB data planes, started and stopped as one."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from moto_fixtures.services import Registry

from .aio import HttpServer, LoopThread
from .bridge import EcsBridge
from .containers import DockerTasks
from .ecr_mirror import EcrMirror
from .hosts import HostsBlock
from .lb import LoadBalancerPlane
from .net import LoopbackPool
from .server import Credentials, MotoAws

log = logging.getLogger(__name__)
_ENV_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
             "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE")


class AwsEmulation:
    """A local stand-in for one AWS account and region.

    * ``endpoint_url``: moto server (ECS, ECR, ELBv2, IAM, Logs, Application Auto Scaling,
      Secrets Manager, EC2 with a default VPC, ...), region ``us-east-1``;
    * ``registry``: ``host:port`` of a real OCI registry standing in for ECR; manifests pushed
      there are recorded in moto's ECR (``put_image``) when the repository exists in moto;
    * ``bridge``: runs each ACTIVE ECS service's task on the Docker engine (``docker_host``);
    * ``load_balancers``: serves every ALB ``DNSName`` on its HTTP and HTTPS listener ports;
    * ``certificate_arn``: an ACM certificate for ``*.<region>.elb.amazonaws.com`` made at start-up
      and imported into ACM (what a user imports or requests), for HTTPS listeners; clients trust
      it through ``ca_pem`` (e.g. ``SSL_CERT_FILE``, as behind a corporate CA).

    ``set_env`` exports the admin credentials and region to ``os.environ`` (restored on stop) so
    boto3's default chain finds them. With ``enforce_iam`` every call must be allowed by IAM;
    ``admin`` holds the keys of an administrator user created for the emulation itself.
    """

    def __init__(self, docker_host: str | None = None, enforce_iam: bool = False,
                 set_env: bool = True, interval: float = 0.5):
        self.docker_host = docker_host or os.environ.get("DOCKER_HOST")
        self.enforce_iam = enforce_iam
        self.set_env = set_env
        self.interval = interval
        self.owner = uuid.uuid4().hex
        self.moto = MotoAws(enforce_iam=enforce_iam)
        self.pool = LoopbackPool()
        self.hosts = HostsBlock()
        self._runner: LoopThread | None = None
        self._webhook: HttpServer | None = None
        self._registry: Registry | None = None
        self.mirror: EcrMirror | None = None
        self.tasks: DockerTasks | None = None
        self.bridge: EcsBridge | None = None
        self.load_balancers: LoadBalancerPlane | None = None
        self._saved_env: dict[str, str | None] = {}
        self.certificate_arn: str | None = None
        self.ca_pem: Path | None = None
        self._tls_dir: str | None = None

    # ---- what users of the emulation read -------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        """moto's URL: the ``endpoint_url`` of every AWS client."""
        return self.moto.endpoint_url

    @property
    def region(self) -> str:
        """The emulated region."""
        return self.moto.region

    @property
    def registry(self) -> str:
        """``host:port`` of the ECR stand-in registry (the per-target registry override)."""
        if self._registry is None:
            raise RuntimeError("AwsEmulation is not started")
        return self._registry.host

    @property
    def admin(self) -> Credentials:
        """Credentials allowed to do everything (the dummy keys when IAM is not enforced)."""
        return self.moto.admin

    def client(self, service: str, credentials: Credentials | None = None):
        """A boto3 client against the emulation (admin credentials unless others are given)."""
        return self.moto.client(service, credentials)

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> "AwsEmulation":
        """Start moto, the registry with its mirror, the ECS bridge and the ALB plane."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.hosts.clean_stale()
        self.moto.start()
        self._runner = LoopThread().start()
        self.mirror = EcrMirror(lambda: self.client("ecr"), lambda: self.registry)
        self._webhook = HttpServer(self._runner, self.mirror.app, "127.0.0.1", 0).start()
        # Blob uploads are not ECR images: the registry itself drops their events.
        self._registry = Registry(notifications=[{
            "name": "ecr-mirror", "url": f"http://127.0.0.1:{self._webhook.port}/events",
            "ignoredmediatypes": ["application/octet-stream"]}]).start()
        self.tasks = DockerTasks(self.owner, self.docker_host)
        self.tasks.clean_stale()
        self.bridge = EcsBridge(self.client, self.registry, self.tasks, self.pool, self.interval,
                                reporter=self.moto.report_service_state).start()
        key_pairs = self._import_certificate()
        self.load_balancers = LoadBalancerPlane(self.client, self.bridge, self._runner, self.pool,
                                                self.hosts, self.interval, key_pairs=key_pairs).start()
        if self.set_env:
            self._export_env()

    def _import_certificate(self) -> dict[str, tuple[str, str]]:
        """Make a CA and a certificate for the load balancers' DNS names and import it into ACM;
        returns {certificate ARN: (certificate file, key file)} for the ALB plane."""
        from moto_fixtures.azure.tls import make_tls_files

        self._tls_dir = tempfile.mkdtemp(prefix="mp-aws-tls-")
        files = make_tls_files(Path(self._tls_dir), dns_names=(f"*.{self.region}.elb.amazonaws.com",
                                                               "*.elb.amazonaws.com"))
        reply = self.client("acm").import_certificate(Certificate=files.cert_pem.read_bytes(),
                                                      PrivateKey=files.key_pem.read_bytes(),
                                                      CertificateChain=files.ca_pem.read_bytes())
        self.certificate_arn, self.ca_pem = reply["CertificateArn"], files.ca_pem
        return {self.certificate_arn: (str(files.cert_pem), str(files.key_pem))}

    def _export_env(self) -> None:
        self._saved_env = {key: os.environ.get(key) for key in _ENV_KEYS}
        for key in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
            os.environ.pop(key, None)
        os.environ.update(self.admin.as_env(), AWS_DEFAULT_REGION=self.region,
                          AWS_REGION=self.region)

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}

    def stop(self) -> None:
        """Stop everything started, in reverse order; safe to call twice."""
        steps = [
            lambda: self.load_balancers and self.load_balancers.stop(),
            lambda: self.bridge and self.bridge.stop(),
            lambda: self.tasks and self.tasks.close(),
            lambda: self._registry and self._registry.stop(),
            lambda: self._webhook and self._webhook.stop(),
            lambda: self._runner and self._runner.stop(),
            self.hosts.clear,
            self.moto.stop,
            self._restore_env,
            lambda: self._tls_dir and shutil.rmtree(self._tls_dir, ignore_errors=True),
        ]
        for step in steps:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - keep cleaning up the rest
                log.warning("AwsEmulation stop step failed: %s", exc)
        self.load_balancers = self.bridge = self.tasks = None
        self._registry = self._webhook = self._runner = None

    def __enter__(self) -> "AwsEmulation":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
