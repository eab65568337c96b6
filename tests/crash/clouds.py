"""The emulated clouds for the crash matrix, as context managers yielding a :class:`Cloud`
(the target settings a user would write and the environment the commands need). Used by the
benchmark directly; the tests build the same settings from the session's emulator fixtures."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from .harness import Cloud

AZURE_TOKEN_ENV = "MODELPORT_TEST_AZURE_TOKEN"
AZURE_SUBSCRIPTION = "00000000-0000-0000-0000-0000000000c9"


def aws_cloud(aws) -> Cloud:
    """The aws target on an ``AwsEmulation`` (its admin keys exported to the environment)."""
    env = {"AWS_ACCESS_KEY_ID": aws.admin.aws_access_key_id, "AWS_SECRET_ACCESS_KEY": aws.admin.aws_secret_access_key,
           "AWS_DEFAULT_REGION": aws.region, "AWS_REGION": aws.region}
    # a short deregistration delay: a removed revision's task drains (keeps running) that long
    return Cloud("aws", {"provider": "aws", "endpoint_url": aws.endpoint_url, "region": aws.region,
                         "registry": f"{aws.registry}/modelport", "deregistration_delay": 5}, env)


def gcp_cloud(endpoint: str, registry_host: str, project: str = "modelport-test",
              region: str = "us-central1") -> Cloud:
    """The gcp target on a Cloud Run emulator, images in a local registry."""
    return Cloud("gcp", {"provider": "gcp", "project": project, "region": region, "api_endpoint": endpoint,
                         "credentials": "anonymous", "registry": f"{registry_host}/gcp", "public": True})


def azure_cloud(base_url: str, ca_pem: str, subscription: str, group: str, location: str,
                registry_host: str) -> Cloud:
    """The azure target on the ARM emulator, images in a local registry."""
    return Cloud("azure", {"provider": "azure", "subscription_id": subscription, "resource_group": group,
                           "location": location, "base_url": base_url, "ca_bundle": ca_pem,
                           "token_env": AZURE_TOKEN_ENV, "registry": f"{registry_host}/azure",
                           "endpoint_host": "ip"},
                 {AZURE_TOKEN_ENV: "emulator-token"})


def azure_apps_cloud(base_url: str, ca_pem: str, subscription: str, group: str, location: str,
                     registry_host: str, environment: str = "crash-env") -> Cloud:
    """The azure-apps target on the ARM emulator (the provider creates the managed environment)."""
    return Cloud("azure-apps", {"provider": "azure-apps", "subscription_id": subscription, "resource_group": group,
                                "location": location, "environment": environment, "base_url": base_url,
                                "ca_bundle": ca_pem, "token_env": AZURE_TOKEN_ENV,
                                "registry": f"{registry_host}/azure-apps", "via_static_ip": True,
                                "allow_insecure": True},
                 {AZURE_TOKEN_ENV: "emulator-token"})


@contextmanager
def started(provider: str) -> Iterator[Cloud]:
    """Start ``provider``'s emulator (and a registry where needed); stop everything after."""
    docker_host = os.environ.get("DOCKER_HOST")
    if provider == "local":
        yield Cloud("local", {"provider": "local"})
        return
    if provider == "aws":
        from moto_fixtures.aws import AwsEmulation

        with AwsEmulation(docker_host=docker_host) as aws:
            yield aws_cloud(aws)
        return
    from moto_fixtures.services import Registry

    with Registry() as registry:
        if provider == "gcp":
            from moto_fixtures.gcp import CloudRunEmulator

            emulator = CloudRunEmulator(docker_host=docker_host, grace_s=1.0)
            endpoint = emulator.start()
            try:
                yield gcp_cloud(endpoint, registry.host)
            finally:
                emulator.stop()
        elif provider in ("azure", "azure-apps"):
            from moto_fixtures.azure import ArmEmulator

            arm = ArmEmulator(docker_host=docker_host)
            arm.start()
            make = azure_cloud if provider == "azure" else azure_apps_cloud
            try:
                arm.add_resource_group(AZURE_SUBSCRIPTION, "modelport-crash", "eastus")
                yield make(arm.base_url, arm.ca_pem, AZURE_SUBSCRIPTION, "modelport-crash", "eastus", registry.host)
            finally:
                arm.stop()
        else:
            raise ValueError(f"unknown provider {provider!r}")
