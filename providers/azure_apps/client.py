"""The only file of the azure-apps provider that calls Azure's SDKs (azure-mgmt-appcontainers,
azure-identity, azure-core).

Managed environments, container apps and revisions through the official ContainerAppsAPIClient;
long-running operations (``begin_*``) are waited for with ``.result(timeout)``. SDK exceptions
become ProviderError; a message never holds a credential or a secret value (the ARM error code
and message only). Replies are plain dicts (``as_dict``: the ARM JSON, camelCase).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any, Iterator

from modelport.errors import ProviderError

from .settings import AzureAppsSettings

PROVIDER = "azure-apps"
RETRYABLE_CODES = {"ContainerAppOperationInProgress", "ServiceUnavailable", "TooManyRequests",
                   "InternalServerError", "RetryableError"}


class EnvTokenCredential:
    """An azure-core credential reading its bearer token from an environment variable at each call."""

    def __init__(self, variable: str) -> None:
        self.variable = variable

    def get_token(self, *scopes: str, **kwargs):
        """The token from the variable (never logged), valid for five minutes."""
        from azure.core.credentials import AccessToken

        token = (os.environ.get(self.variable) or "").strip()
        if not token:
            raise ProviderError(PROVIDER, "get token", f"the environment variable {self.variable} (token_env) "
                                "is empty or not set",
                                hint=f"export {self.variable}=$(az account get-access-token --query accessToken -o tsv)")
        from modelport.redact import remember

        remember(token)
        return AccessToken(token, int(time.time()) + 300)

    def __repr__(self) -> str:
        return f"EnvTokenCredential({self.variable!r})"


@contextlib.contextmanager
def api_errors(operation: str) -> Iterator[None]:
    """Map SDK exceptions to ProviderError."""
    from azure.core import exceptions as aexc

    try:
        yield
    except ProviderError:
        raise
    except aexc.ClientAuthenticationError as exc:
        raise ProviderError(PROVIDER, operation, f"Azure refused the credentials ({_code(exc)})",
                            hint="run `az login` or refresh the token in token_env") from None
    except aexc.HttpResponseError as exc:
        code, status = _code(exc), getattr(exc, "status_code", None)
        raise ProviderError(PROVIDER, operation, f"{code} ({status}): {_message(exc)}",
                            retryable=code in RETRYABLE_CODES or status == 429 or (status or 0) >= 500) from None
    except aexc.ServiceRequestError as exc:
        raise ProviderError(PROVIDER, operation, f"cannot reach Azure Resource Manager ({type(exc).__name__})",
                            retryable=True) from None
    except aexc.AzureError as exc:
        raise ProviderError(PROVIDER, operation, type(exc).__name__, retryable=True) from None
    except TimeoutError:
        raise ProviderError(PROVIDER, operation, "the operation did not finish in time", retryable=True,
                            hint="raise operation_timeout_s in the target settings") from None


def _code(exc) -> str:
    return getattr(getattr(exc, "error", None), "code", None) or type(exc).__name__


def _message(exc) -> str:
    error = getattr(exc, "error", None)
    return getattr(error, "message", None) or getattr(exc, "reason", None) or "request failed"


def credential(settings: AzureAppsSettings):
    """The ARM token credential: token_env, or azure-identity's DefaultAzureCredential."""
    if settings.token_env:
        return EnvTokenCredential(settings.token_env)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


class ContainerApps:
    """Typed calls on the target's resource group."""

    def __init__(self, settings: AzureAppsSettings) -> None:
        from azure.mgmt.appcontainers import ContainerAppsAPIClient

        self.settings = settings
        kwargs: dict[str, Any] = {"base_url": settings.base_url}
        if settings.ca_bundle:
            kwargs["connection_verify"] = settings.ca_bundle
        self.client = ContainerAppsAPIClient(credential(settings), settings.subscription_id, **kwargs)
        self.rg = settings.resource_group

    def _wait(self, poller) -> Any:
        return poller.result(timeout=self.settings.operation_timeout_s)

    def _missing_is_none(self, call, operation: str):
        from azure.core.exceptions import ResourceNotFoundError

        with api_errors(operation):
            try:
                return call()
            except ResourceNotFoundError:
                return None

    # -- environments ------------------------------------------------------------------------
    def get_environment(self) -> dict[str, Any] | None:
        """The target's managed environment, or None."""
        found = self._missing_is_none(lambda: self.client.managed_environments.get(self.rg, self.settings.environment),
                                      f"get managed environment {self.settings.environment}")
        return found.as_dict() if found is not None else None

    def create_environment(self) -> dict[str, Any]:
        """Create the managed environment (Consumption) and wait."""
        body = json.dumps({"location": self.settings.location, "tags": {"modelport:managed": "true"},
                           "properties": {}}).encode()
        with api_errors(f"create managed environment {self.settings.environment}"):
            poller = self.client.managed_environments.begin_create_or_update(
                self.rg, self.settings.environment, body, content_type="application/json")
            return self._wait(poller).as_dict()

    # -- apps ----------------------------------------------------------------------------------
    def get_app(self, name: str) -> dict[str, Any] | None:
        """One container app, or None."""
        found = self._missing_is_none(lambda: self.client.container_apps.get(self.rg, name), f"get container app {name}")
        return found.as_dict() if found is not None else None

    def list_apps(self) -> list[dict[str, Any]]:
        """Every container app of the resource group."""
        found = self._missing_is_none(lambda: list(self.client.container_apps.list_by_resource_group(self.rg)),
                                      "list container apps")
        return [a.as_dict() for a in found or []]

    def put_app(self, name: str, body: dict[str, Any]) -> None:
        """PUT the ARM JSON ``body`` and wait for the operation."""
        with api_errors(f"create or update container app {name}"):
            poller = self.client.container_apps.begin_create_or_update(
                self.rg, name, json.dumps(body).encode(), content_type="application/json")
            self._wait(poller)

    def patch_app(self, name: str, body: dict[str, Any]) -> None:
        """PATCH part of the app (e.g. its traffic) and wait."""
        with api_errors(f"update container app {name}"):
            poller = self.client.container_apps.begin_update(
                self.rg, name, json.dumps(body).encode(), content_type="application/json")
            self._wait(poller)

    def delete_app(self, name: str) -> None:
        """Delete an app and wait (a missing one is fine)."""
        self._missing_is_none(lambda: self._wait(self.client.container_apps.begin_delete(self.rg, name)),
                              f"delete container app {name}")

    # -- revisions -------------------------------------------------------------------------------
    def list_revisions(self, name: str) -> list[dict[str, Any]]:
        """The app's revisions (active and inactive)."""
        found = self._missing_is_none(lambda: list(self.client.container_apps_revisions.list_revisions(self.rg, name)),
                                      f"list revisions of {name}")
        return [r.as_dict() for r in found or []]

    def deactivate(self, name: str, revision: str) -> None:
        """Deactivate a revision (its replicas stop)."""
        with api_errors(f"deactivate revision {revision}"):
            self.client.container_apps_revisions.deactivate_revision(self.rg, name, revision)

    def activate(self, name: str, revision: str) -> None:
        """Activate an inactive revision again."""
        with api_errors(f"activate revision {revision}"):
            self.client.container_apps_revisions.activate_revision(self.rg, name, revision)
