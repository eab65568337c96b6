"""Hook implementations only: registers the gcp provider (the Cloud Run SDK loads lazily)."""

from modelport.hookspecs import hookimpl

from .provider import GcpProvider


@hookimpl
def modelport_register_providers(register):
    register(GcpProvider())
