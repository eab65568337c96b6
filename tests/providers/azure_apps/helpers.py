"""Helpers for the azure-apps provider's end-to-end tests: the ARM emulator's Container Apps
(a managed environment per session), iris projects with an azure-apps target, and reads through
the official ContainerAppsAPIClient (independent of the provider under test)."""

from __future__ import annotations

import pytest

from moto_fixtures.azure.apps_fixtures import azure_apps_environment  # noqa: F401  (re-exported fixture)
from moto_fixtures.azure.fixtures import azure_emulator  # noqa: F401  (re-exported fixture)
from tests.environment import modelport_home_at
from tests.iris import served_version  # noqa: F401
from tests.providers.gcp.helpers import unique, write_project  # noqa: F401

TOKEN_ENV = "MODELPORT_TEST_AZURE_APPS_TOKEN"


@pytest.fixture(scope="module", autouse=True)
def modelport_home(tmp_path_factory):
    """One local image store and an ARM token (token_env) for the module."""
    with modelport_home_at(tmp_path_factory.mktemp("mphome"), **{TOKEN_ENV: "emulator-token"}) as home:
        yield home


def apps_target(env, registry, **settings) -> dict:
    """Settings of an azure-apps target in the session's managed environment, images in the local
    registry, reached through the environment's static IP over plain HTTP (the gates have no
    setting for the emulator's CA; HTTPS is proven in tests/emulators)."""
    arm = env.azure
    return {"provider": "azure-apps", "subscription_id": arm.subscription_id, "resource_group": arm.resource_group,
            "location": arm.location, "environment": env.name, "base_url": arm.base_url, "ca_bundle": arm.ca_pem,
            "token_env": TOKEN_ENV, "registry": f"{registry.host}/azure-apps", "via_static_ip": True,
            "allow_insecure": True, **settings}


def split(env, name: str) -> dict[str, int]:
    """label -> weight of the app's traffic, read with the official client."""
    app = env.azure.apps_client().container_apps.get(env.azure.resource_group, name)
    return {t.label: t.weight for t in app.configuration.ingress.traffic if t.weight}


def host_headers(env, name: str, label: str | None = None) -> dict[str, str]:
    """The Host header reaching the app (or a label) on the environment's static IP."""
    app = env.azure.apps_client().container_apps.get(env.azure.resource_group, name)
    fqdn = app.configuration.ingress.fqdn
    return {"Host": fqdn if label is None else fqdn.replace(f"{name}.", f"{name}---{label}.", 1)}
