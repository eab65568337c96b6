"""Conformance clauses about a first deploy that fails: whatever it created is removed again.

They run before ``test_deploy`` on the suite's deployment (so they reuse its image build): a
deploy that fails at any primitive, or whose gate fails once traffic has moved, must leave no
revision, no traffic, no shared infrastructure, no tagged resource (with or without a revision
tag) and no record in the state store. :class:`~modelport.testing.conformance.ProviderConformance`
includes these functions as its clauses.
"""

from __future__ import annotations

from typing import Any

from .. import api
from ..errors import ModelportError
from ..provider import Health, ProviderProxy
from .harness import TARGET, ConformanceEnv, faulty

#: the primitives a first deploy calls, in order; a fault in each must be undone completely
FIRST_DEPLOY_PRIMITIVES = ("ensure_infrastructure", "create_revision", "health", "set_traffic")


class FailsAfterTraffic(ProviderProxy):
    """``inner`` whose revisions report a failed health once traffic has moved (the endpoint gate
    of a first deploy then fails after ``set_traffic`` took effect)."""

    moved = False

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "health" and self.moved:
            return Health(False, "planted by the conformance suite: the gate fails", failed=True)
        result = super()._call(method, *args, **kwargs)
        self.moved = self.moved or method == "set_traffic"
        return result


def assert_nothing_left(env: ConformanceEnv, what: str) -> None:
    """After ``what`` was undone: the deployment does not exist on the target nor in state. When
    something is left it is removed before failing, so that the next clauses start clean."""
    try:
        observed = env.observe()
        assert not observed.exists, f"{what}: the undo left {observed}"
        left = [r for r in env.provider.list_resources(env.target) if r.deployment == env.name]
        assert not left, f"{what}: the undo left tagged resources (revision tag or not): {left}"
        assert env.recorded() is None, f"{what}: the state store still records the deployment"
    except AssertionError:
        env.cleanup()
        env.session.state.forget_deployment(env.name, TARGET)
        raise


def test_faults_during_a_first_deploy_leave_nothing(self, conformance: ConformanceEnv) -> None:
    """A first deploy whose call of any primitive fails is undone completely (nothing left)."""
    for primitive in FIRST_DEPLOY_PRIMITIVES:
        wrapper = faulty(conformance.provider, primitive)
        try:
            api.deploy(conformance.project(1), TARGET, session=conformance.session_with(wrapper))
        except ModelportError as exc:
            assert primitive in wrapper.calls, f"a first deploy failed before calling {primitive}: {exc}"
            assert primitive in str(exc), f"fault in {primitive} during a first deploy: the error must name it: {exc}"
        else:
            assert primitive not in wrapper.calls, f"{primitive} failed but the first deploy succeeded"
            api.destroy(conformance.name, TARGET, session=conformance.session)
            continue
        assert_nothing_left(conformance, f"fault in {primitive} during a first deploy")


def test_failed_first_deploy_leaves_nothing(self, conformance: ConformanceEnv) -> None:
    """A first deploy whose endpoint gate fails after traffic moved is undone completely."""
    wrapper = FailsAfterTraffic(conformance.provider)
    try:
        api.deploy(conformance.project(1), TARGET, session=conformance.session_with(wrapper))
    except ModelportError as exc:
        assert "planted by the conformance suite" in str(exc), f"the first deploy failed for another reason: {exc}"
    else:
        raise AssertionError("a first deploy whose gate fails succeeded")
    assert wrapper.moved, "a first deploy never called set_traffic"
    assert_nothing_left(conformance, "a first deploy whose gate failed")
