"""modelport's provider conformance suite, run against a real swarm."""

from modelport.testing.conformance import ProviderConformance


class TestSwarmConformance(ProviderConformance):
    """Every clause of the provider contract, on the swarm of ``conformance_target``."""
