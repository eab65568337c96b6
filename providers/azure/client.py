"""The only file of the azure provider that calls Azure's SDKs (azure-mgmt-containerinstance,
azure-identity, azure-core).

Container groups through the official ContainerInstanceManagementClient; long-running operations
(``begin_*``) are waited for with ``.result(timeout)``. SDK exceptions become ProviderError; a
message never holds a credential or a secure value (the ARM error code and message only).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any, Iterator

from modelport.errors import ProviderError

from .settings import AzureSettings

RETRYABLE_CODES = {"ContainerGroupTransitioning", "ServiceUnavailable", "TooManyRequests",
                   "InternalServerError", "RetryableError"}


class EnvTokenCredential:
    """An azure-core credential whose bearer token is read from an environment variable at each
    call (``token_env``); the token is never logged or shown."""

    def __init__(self, variable: str) -> None:
        self.variable = variable

    def get_token(self, *scopes: str, **kwargs):
        from azure.core.credentials import AccessToken

        token = os.environ.get(self.variable)
        if not token:
            raise ProviderError("azure", "get token", f"the environment variable {self.variable} "
                                "(token_env) is empty or not set",
                                hint=f"export {self.variable}=$(az account get-access-token --query "
                                     "accessToken -o tsv)")
        from modelport.redact import remember

        remember(token.strip())
        return AccessToken(token.strip(), int(time.time()) + 300)

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
        raise ProviderError("azure", operation, f"Azure refused the credentials ({_code(exc)})",
                            hint="run `az login` (DefaultAzureCredential) or refresh the token in token_env") from None
    except aexc.HttpResponseError as exc:
        code, status = _code(exc), getattr(exc, "status_code", None)
        raise ProviderError("azure", operation, f"{code} ({status}): {_message(exc)}",
                            retryable=code in RETRYABLE_CODES or (status or 0) >= 500) from None
    except aexc.ServiceRequestError as exc:
        raise ProviderError("azure", operation, f"cannot reach Azure Resource Manager ({type(exc).__name__})",
                            retryable=True) from None
    except aexc.AzureError as exc:
        raise ProviderError("azure", operation, f"{type(exc).__name__}", retryable=True) from None
    except TimeoutError:
        raise ProviderError("azure", operation, "the operation did not finish in time", retryable=True,
                            hint="raise operation_timeout_s in the target settings") from None


def _code(exc) -> str:
    error = getattr(exc, "error", None)
    return getattr(error, "code", None) or type(exc).__name__


def _message(exc) -> str:
    error = getattr(exc, "error", None)
    return getattr(error, "message", None) or getattr(exc, "reason", None) or "request failed"


def credential(settings: AzureSettings):
    """The ARM token credential: token_env, or azure-identity's DefaultAzureCredential."""
    if settings.token_env:
        return EnvTokenCredential(settings.token_env)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


class ContainerGroups:
    """Typed calls on the target's resource group; replies are plain dicts (``as_dict``)."""

    def __init__(self, settings: AzureSettings) -> None:
        from azure.mgmt.containerinstance import ContainerInstanceManagementClient

        self.settings = settings
        self.credential = credential(settings)
        kwargs: dict[str, Any] = {"base_url": settings.base_url}
        if settings.ca_bundle:
            kwargs["connection_verify"] = settings.ca_bundle
        self.client = ContainerInstanceManagementClient(self.credential, settings.subscription_id, **kwargs)
        self.groups = self.client.container_groups

    def _wait(self, poller) -> Any:
        return poller.result(timeout=self.settings.operation_timeout_s)

    def get(self, name: str) -> dict[str, Any] | None:
        """One group, or None."""
        from azure.core.exceptions import ResourceNotFoundError

        with api_errors(f"get container group {name}"):
            try:
                return self.groups.get(self.settings.resource_group, name).as_dict()
            except ResourceNotFoundError:
                return None

    def list(self) -> list[dict[str, Any]]:
        """Every group of the resource group."""
        from azure.core.exceptions import ResourceNotFoundError

        with api_errors("list container groups"):
            try:
                return [g.as_dict() for g in self.groups.list_by_resource_group(self.settings.resource_group)]
            except ResourceNotFoundError:
                return []

    def create_or_update(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT the ARM JSON ``body`` and wait for the operation."""
        raw = json.dumps(body).encode()  # the ARM JSON as is (bytes: the SDK sends it unchanged)
        with api_errors(f"create container group {name}"):
            poller = self.groups.begin_create_or_update(self.settings.resource_group, name, raw,
                                                        content_type="application/json")
            return self._wait(poller).as_dict()

    def set_tags(self, name: str, tags: dict[str, str]) -> None:
        """PATCH the group's tags (the whole set)."""
        from azure.mgmt.containerinstance.models import Resource

        with api_errors(f"update tags of {name}"):
            self.groups.update(self.settings.resource_group, name, Resource(tags=tags))

    def delete(self, name: str) -> None:
        """Delete a group and wait (a missing one is fine)."""
        from azure.core.exceptions import ResourceNotFoundError

        with api_errors(f"delete container group {name}"):
            try:
                self._wait(self.groups.begin_delete(self.settings.resource_group, name))
            except ResourceNotFoundError:
                pass

    def logs(self, name: str, tail: int) -> str:
        """The container's recent log lines."""
        with api_errors(f"read logs of {name}"):
            return self.client.containers.list_logs(self.settings.resource_group, name, "model", tail=tail).content or ""
