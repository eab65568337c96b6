"""Hook implementations only: registers the Swarm provider with modelport."""

from modelport.hookspecs import hookimpl

from .provider import SwarmProvider


@hookimpl
def modelport_register_providers(register):
    """Offer the ``swarm`` provider."""
    register(SwarmProvider())
