"""One emulated cloud with an intercepting proxy in front of its control plane, started outside
pytest too (the benchmark uses it): the provider is pointed at the proxy only through settings a
real user has (aws ``endpoint_url``, gcp ``api_endpoint``, azure ``base_url`` + ``ca_bundle``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from moto_fixtures.proxy import InterceptingProxy

AZURE_TOKEN_ENV = "MODELPORT_FAULTS_AZURE_TOKEN"
CLOUDS = ("aws", "gcp", "azure", "azure-apps")


class Rig:
    """An emulator, a registry where needed, and a proxy; ``settings`` is the cloud target."""

    cloud: str = ""
    #: azure refuses canary (no traffic split): the harness checks the refusal instead
    canary: bool = True

    def __init__(self, docker_host: str) -> None:
        self.docker_host = docker_host
        self.stack = contextlib.ExitStack()
        self.proxy: InterceptingProxy | None = None

    def start(self) -> "Rig":
        """Start everything; stop() undoes it even after a failed start."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the proxy, the emulator and the registry (their containers are removed)."""
        self.stack.close()

    def _proxy(self, upstream: str, **kwargs) -> str:
        self.proxy = InterceptingProxy(upstream, flavour=self.cloud, **kwargs)
        url = self.proxy.start()
        self.stack.callback(self.proxy.stop)
        return url

    def _registry(self):
        from moto_fixtures.services import Registry

        return self.stack.enter_context(Registry())

    def _start(self) -> None:
        raise NotImplementedError

    settings: dict = {}


class AwsRig(Rig):
    cloud = "aws"

    def _start(self) -> None:
        from moto_fixtures.aws.emulation import AwsEmulation

        aws = self.stack.enter_context(AwsEmulation(docker_host=self.docker_host))
        url = self._proxy(aws.endpoint_url)
        # a short deregistration delay: a removed revision's task drains (keeps running) that long
        self.settings = {"provider": "aws", "endpoint_url": url, "region": aws.region,
                         "registry": f"{aws.registry}/modelport", "deregistration_delay": 5}


class GcpRig(Rig):
    cloud = "gcp"
    #: CloudRunEmulator options (e.g. a longer operation_delay_s)
    emulator_options: dict = {}

    def _start(self) -> None:
        from moto_fixtures.gcp import CloudRunEmulator

        registry = self._registry()
        emulator = CloudRunEmulator(docker_host=self.docker_host, grace_s=1.0, **self.emulator_options)
        upstream = emulator.start()
        self.stack.callback(emulator.stop)
        url = self._proxy(upstream)
        self.settings = {"provider": "gcp", "project": "modelport-test", "region": "us-central1",
                         "api_endpoint": url, "credentials": "anonymous", "registry": f"{registry.host}/gcp",
                         "public": True}


class AzureRig(Rig):
    cloud = "azure"
    canary = False
    flavour = "azure"  # ARM's error bodies, for every provider on the ARM emulator
    own_settings: dict = {"endpoint_host": "ip"}  # the provider's settings besides the shared ARM ones

    def _proxy(self, upstream: str, **kwargs) -> str:
        self.proxy = InterceptingProxy(upstream, flavour=self.flavour, **kwargs)
        url = self.proxy.start()
        self.stack.callback(self.proxy.stop)
        return url

    def _start(self) -> None:
        from moto_fixtures.azure.fixtures import LOCATION, RESOURCE_GROUP, SUBSCRIPTION_ID
        from moto_fixtures.azure.server import ArmEmulator
        from moto_fixtures.azure.tls import make_tls_files

        registry = self._registry()
        arm = ArmEmulator()
        arm.start()
        self.stack.callback(arm.stop)
        arm.add_resource_group(SUBSCRIPTION_ID, RESOURCE_GROUP, LOCATION)
        tls = make_tls_files(Path(self.stack.enter_context(tempfile.TemporaryDirectory(prefix="fault-proxy-"))))
        url = self._proxy(arm.base_url, tls=(str(tls.cert_pem), str(tls.key_pem)), upstream_ca=arm.ca_pem)
        previous = os.environ.get(AZURE_TOKEN_ENV)
        os.environ[AZURE_TOKEN_ENV] = "emulator-token"
        self.stack.callback(_restore_env, AZURE_TOKEN_ENV, previous)
        self.settings = {"provider": self.cloud, "subscription_id": SUBSCRIPTION_ID, "resource_group": RESOURCE_GROUP,
                         "location": LOCATION, "base_url": url, "ca_bundle": str(tls.ca_pem),
                         "token_env": AZURE_TOKEN_ENV, "registry": f"{registry.host}/{self.cloud}",
                         **self.own_settings}


class AzureAppsRig(AzureRig):
    """Container Apps on the ARM emulator; the provider creates the managed environment itself."""

    cloud = "azure-apps"
    canary = True
    own_settings = {"environment": "faults-env", "via_static_ip": True, "allow_insecure": True}


def _restore_env(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


RIGS = {"aws": AwsRig, "gcp": GcpRig, "azure": AzureRig, "azure-apps": AzureAppsRig}


def rig(cloud: str, docker_host: str) -> Rig:
    """A started rig for ``cloud``."""
    return RIGS[cloud](docker_host).start()
