"""Bugs planted in the in-memory provider, one per class, for the conformance mutation test.

Each mutant is what a plugin author could plausibly get wrong; ``CAUGHT_BY`` says which clause
of the conformance suite must fail for it, and a fragment of that clause's message. ``Sound``
has no bug: it must pass every clause.
"""

from __future__ import annotations

from dataclasses import replace

from modelport.errors import ProviderError
from modelport.hookspecs import hookimpl
from modelport.provider import Health, Resource
from modelport.testing.memory import MemoryProvider, _key


class Sound(MemoryProvider):
    """No bug."""


class SecretInTranslate(MemoryProvider):
    def translate(self, rev, target):
        return {**super().translate(rev, target), "env": dict(rev.secret_values)}


class DeleteDoesNothing(MemoryProvider):
    def delete_revision(self, target, deployment, revision):
        self._call("delete_revision", target)


class CreateTakesTraffic(MemoryProvider):
    def create_revision(self, target, rev):
        created = super().create_revision(target, rev)
        self.traffic[_key(target, rev.deployment)] = {rev.revision: 100}
        return created


class CreateNotIdempotent(MemoryProvider):
    def create_revision(self, target, rev):
        if rev.revision in self.revisions.get(_key(target, rev.deployment), {}):
            raise ProviderError(self.name, "create_revision", f"revision {rev.revision} already exists")
        return super().create_revision(target, rev)


class WrongDigest(MemoryProvider):
    def observe(self, target, deployment):
        observed = super().observe(target, deployment)
        return replace(observed, revisions=tuple(replace(r, digest="sha256:" + "0" * 64) for r in observed.revisions))


class UntaggedResources(MemoryProvider):
    def list_resources(self, target):
        return [replace(r, deployment=None) for r in super().list_resources(target)]


class NoConfigHash(MemoryProvider):
    def observe(self, target, deployment):
        observed = super().observe(target, deployment)
        return replace(observed, revisions=tuple(replace(r, config="") for r in observed.revisions))


class NeverReadyInObserve(MemoryProvider):
    def observe(self, target, deployment):
        observed = super().observe(target, deployment)
        return replace(observed, revisions=tuple(replace(r, ready=False) for r in observed.revisions))


class LostTrafficMove(MemoryProvider):
    """Reports every traffic move (observe shows it) but routes only by the first one."""

    def __init__(self) -> None:
        super().__init__()
        self.claimed: dict[str, dict[str, int]] = {}

    def set_traffic(self, target, deployment, weights):
        key = _key(target, deployment)
        if key not in self.traffic:
            super().set_traffic(target, deployment, weights)
        self.claimed[key] = {k: v for k, v in weights.items() if v}

    def observe(self, target, deployment):
        observed = super().observe(target, deployment)
        claimed = self.claimed.get(_key(target, deployment))
        return replace(observed, traffic=claimed) if claimed else observed


class RawSdkErrors(MemoryProvider):
    def _ask_api(self, api, primitive):
        self.http.get(f"{api}/{primitive}", timeout=5).raise_for_status()  # httpx's own exceptions leak


class LosesRetryable(MemoryProvider):
    def _ask_api(self, api, primitive):
        try:
            super()._ask_api(api, primitive)
        except ProviderError as exc:
            raise ProviderError(self.name, primitive, str(exc)) from None


class LeavesUntaggedRouter(MemoryProvider):
    """Its router carries the deployment tag but no revision tag, and destroy forgets to delete it."""

    def __init__(self) -> None:
        super().__init__()
        self.routers_made: set[tuple[str, str]] = set()

    def ensure_infrastructure(self, target, deployment):
        super().ensure_infrastructure(target, deployment)
        self.routers_made.add((target.name, deployment))

    def list_resources(self, target):
        return super().list_resources(target) + [Resource("router", f"{t}/{d}/router", d)
                                                 for t, d in self.routers_made if t == target.name]


class HealthReadyTooEarly(MemoryProvider):
    def health(self, target, deployment, revision):
        self._call("health", target)
        entry = self.revisions.get(_key(target, deployment), {}).get(revision)
        return Health(True, "running", entry[1].url) if entry else Health(False, "no such revision", failed=True)


#: mutant -> (the clause that must fail, a fragment of its message)
CAUGHT_BY = {
    "SecretInTranslate": ("test_translate_is_plain_data_without_secret_values", "must not contain a secret value"),
    "DeleteDoesNothing": ("test_faults_during_a_first_deploy_leave_nothing", "the undo left"),
    "CreateTakesTraffic": ("test_revision_create_and_delete", "a new revision must not take traffic"),
    "CreateNotIdempotent": ("test_revision_create_and_delete", "already exists"),
    "WrongDigest": ("test_deploy", "digest"),
    "UntaggedResources": ("test_resources_are_tagged", "no tagged resource"),
    "NoConfigHash": ("test_plan_after_deploy_is_empty", "must plan nothing"),
    "NeverReadyInObserve": ("test_deploy", "ready revision"),
    "LostTrafficMove": ("test_canary_or_refusal", "version 1.0.0 answered"),
    "RawSdkErrors": ("test_sdk_errors_become_modelport_errors", "not a modelport.errors.ProviderError"),
    "LosesRetryable": ("test_sdk_errors_become_modelport_errors", "retryable=True"),
    "LeavesUntaggedRouter": ("test_faults_during_a_first_deploy_leave_nothing", "revision tag or not"),
    "HealthReadyTooEarly": ("test_deploy", "503"),
}


class Plugin:
    """Registers one provider instance."""

    def __init__(self, provider: MemoryProvider) -> None:
        self.provider = provider

    @hookimpl
    def modelport_register_providers(self, register):
        register(self.provider)

