"""Hook implementations only: registers the local provider."""

from modelport.hookspecs import hookimpl

from .provider import LocalProvider


@hookimpl
def modelport_register_providers(register):
    register(LocalProvider())
