"""Hook implementations only: registers the azure-apps provider (the Azure SDKs load lazily)."""

from modelport.hookspecs import hookimpl

from .provider import AzureAppsProvider


@hookimpl
def modelport_register_providers(register):
    """Register the Azure Container Apps provider under the name ``azure-apps``."""
    register(AzureAppsProvider())
