"""Hook implementations only: registers the azure provider (the Azure SDKs load lazily)."""

from modelport.hookspecs import hookimpl

from .provider import AzureProvider


@hookimpl
def modelport_register_providers(register):
    register(AzureProvider())
