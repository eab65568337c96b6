"""The provider conformance suite: what every provider must do for the engine's strategies (swap,
canary, rollback, migrate) to work on it without its author reading core's code.

Use it from a provider package's tests::

    # conftest.py
    import pytest
    from modelport.testing.conformance import ConformanceTarget

    pytest_plugins = ["modelport.testing.pytest_plugin"]

    @pytest.fixture(scope="session")
    def conformance_target():
        platform = start_my_platform_or_emulator()          # yours
        yield ConformanceTarget(settings={"provider": "fly", "endpoint": platform.url, ...},
                                bad_settings={"provider": "fly", "endpoint": "http://127.0.0.1:9"})
        platform.stop()

    # test_conformance.py
    from modelport.testing.conformance import ProviderConformance

    class TestFlyConformance(ProviderConformance):
        pass

The tests of one class share one deployment and run in order (pytest keeps definition order):
validation and translation first (no cloud call), then deploy, the read primitives, revision
create/delete, traffic, a swap and a rollback, a fault at every write primitive, error mapping,
and destroy last. Each failure message says which contract clause failed.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from .. import api
from ..engine.revision import from_data, with_config
from ..errors import CapabilityError, HealthGateFailed, ModelportError, ProviderError, SpecErrors
from ..provider import Health, ImageRef, Observed, Resource, Revision, RevisionSpec, Size, Target
from . import first_deploy
from .harness import PEER, PRIMITIVES, TARGET, ConformanceEnv, ConformanceTarget, ErrorAPI, faulty, write_project

__all__ = ["ConformanceTarget", "ProviderConformance"]

SECRET = "conformance-secret-value-4f1c9e"
#: the analysis gate of the slow-version clause: a model taking SLOW_S per prediction breaches
#: max_p99_ms at once under the gate's load (a normal one answers in milliseconds)
SLOW_S = 0.5
SLOW_ANALYSIS = {"bake": 10, "load": 10, "max_error_rate": 0.05, "max_p99_ms": 200}


def _revision_spec(env: ConformanceEnv) -> RevisionSpec:
    """The recorded revision that serves now (as the engine would re-create it)."""
    row = env.recorded()
    assert row, "nothing is recorded for the deployment: did test_deploy fail?"
    spec = next(r for r in reversed(env.session.state.revisions(env.name, TARGET)) if r["revision"] == row["revision"])
    return from_data(json.loads(spec["spec"]))


def _snapshot(env: ConformanceEnv) -> tuple[set[str], dict[str, int], str | None]:
    observed = env.observe()
    row = env.recorded()
    return {r.name for r in observed.revisions}, dict(observed.traffic), row and row["revision"]


_DEPLOYED = ("test_deploy",)


class ProviderConformance:
    """Subclass in a provider package's tests; needs a ``conformance_target`` fixture."""

    #: clauses that make no platform call and build nothing (marked ``conformance_pure``)
    pure_clauses: tuple[str, ...] = ("test_settings_are_validated", "test_sizes",
                                     "test_translate_is_plain_data_without_secret_values")
    #: clause -> the clauses it builds on; when one of those failed it is skipped, naming it
    clause_needs: dict[str, tuple[str, ...]] = {
        **{name: _DEPLOYED for name in (
            "test_plan_after_deploy_is_empty", "test_status_agrees", "test_health_and_endpoint",
            "test_resources_are_tagged", "test_revision_create_and_delete", "test_canary_or_refusal",
            "test_migrate_to_a_peer_target", "test_destroy_leaves_nothing")},
        "test_rollback": ("test_canary_or_refusal",),
        "test_analysis_rolls_back_a_slow_version": ("test_rollback",),
        "test_fault_at_every_primitive_rolls_back": ("test_deploy", "test_rollback"),
    }

    # -- no cloud call ------------------------------------------------------------------------------
    def test_settings_are_validated(self, conformance: ConformanceEnv):
        """The target settings validate; an unknown key is refused naming the field."""
        folder = conformance.root / "bad-settings"
        write_project(folder, conformance.ct, conformance.name, 1,
                      settings={**conformance.ct.settings, "no_such_setting": 1})
        with pytest.raises(SpecErrors) as caught:
            api.validate(folder, conformance.session)
        fields = [e.field for e in caught.value.errors]
        assert any("no_such_setting" in f for f in fields), f"unknown setting not named: {fields}"
        api.validate(conformance.project(1), conformance.session)

    def test_sizes(self, conformance: ConformanceEnv):
        """fit_size returns a Size and notes; an impossible size is a SpecError on resources."""
        fitted, notes = conformance.provider.fit_size(Size(1, 2048), conformance.target)
        assert isinstance(fitted, Size) and isinstance(notes, list), "fit_size must return (Size, list[str])"
        bad = conformance.ct.impossible_resources
        if bad is None:
            pytest.skip("the provider declares no impossible size")
        folder = conformance.root / "bad-size"
        write_project(folder, conformance.ct, conformance.name, 1, resources=bad)
        with pytest.raises(SpecErrors) as caught:
            api.validate(folder, conformance.session)
        assert any(e.field.startswith("resources") or "resources" in e.message for e in caught.value.errors), \
            f"the size error must name resources.*: {caught.value}"

    def test_translate_is_plain_data_without_secret_values(self, conformance: ConformanceEnv):
        """translate() is pure, deterministic, JSON-ready, and never shows a secret value."""
        rev = RevisionSpec(deployment=conformance.name, revision="r1",
                           image=ImageRef("sha256:" + "1" * 64, "sha256:" + "2" * 64,
                                          f"registry.example/x@sha256:{'1' * 64}"),
                           size=Size(1, 2048), port=8080, env={"A": "b"}, secrets={"TOKEN": "env:TOKEN"},
                           min_instances=1, max_instances=1, concurrency=10, model_name="m",
                           model_version="1", config="c", secret_values={"TOKEN": SECRET})
        first = conformance.provider.translate(rev, conformance.target)
        second = conformance.provider.translate(rev, conformance.target)
        text = json.dumps(first, sort_keys=True, default=str)
        assert first == second, "translate must be deterministic"
        json.loads(json.dumps(first))  # plain data: raises on objects
        assert SECRET not in text, "translate (shown by plan) must not contain a secret value"

    # -- a first deploy that fails leaves nothing ---------------------------------------------------
    test_faults_during_a_first_deploy_leave_nothing = first_deploy.test_faults_during_a_first_deploy_leave_nothing
    test_failed_first_deploy_leaves_nothing = first_deploy.test_failed_first_deploy_leaves_nothing

    # -- deploy and read ----------------------------------------------------------------------------
    def test_deploy(self, conformance: ConformanceEnv):
        """A first deploy serves version 1 at the deployment endpoint, recorded in state."""
        result = api.deploy(conformance.project(1), TARGET, session=conformance.session)
        assert result.status == "succeeded", f"deploy ended {result.status}"
        assert result.endpoint, "deploy must report the endpoint"
        observed = conformance.observe()
        assert isinstance(observed, Observed) and observed.exists, f"observe after deploy: {observed}"
        assert observed.traffic == {result.revision: 100}, f"traffic after a first deploy: {observed.traffic}"
        rev = observed.revision(result.revision)
        assert isinstance(rev, Revision) and rev.ready, f"observe must report the ready revision: {observed}"
        assert rev.digest == result.outputs["image"]["digest"], "observe must report the image digest"
        assert conformance.served_version(result.endpoint) == 1, "the endpoint must serve version 1"

    def test_plan_after_deploy_is_empty(self, conformance: ConformanceEnv):
        """Deploying the same spec again changes nothing (observe + config hash are stable)."""
        plan = api.plan(conformance.project(1), TARGET, session=conformance.session)
        assert plan.empty, f"a repeated deploy must plan nothing, got {plan.changes}"

    def test_status_agrees(self, conformance: ConformanceEnv):
        """status() reads the cloud: the recorded revision, 100% traffic, no drift."""
        [row] = api.status(conformance.name, TARGET, session=conformance.session)
        assert row["drift"] == [], f"status reports drift: {row}"
        assert row["traffic"] == {row["recorded"]["revision"]: 100}, f"status traffic: {row}"

    def test_health_and_endpoint(self, conformance: ConformanceEnv):
        """health() of the serving revision is ready and names an endpoint that answers."""
        serving = conformance.recorded()["revision"]
        health = conformance.provider.health(conformance.target, conformance.name, serving)
        assert isinstance(health, Health) and health.ready and not health.failed, f"health of the serving revision: {health}"
        assert health.endpoint, "health must say where a smoke request reaches the revision"
        assert conformance.served_version(health.endpoint, dict(health.headers)) == 1, "health.endpoint must serve version 1"

    def test_resources_are_tagged(self, conformance: ConformanceEnv):
        """list_resources() finds the deployment's resources by modelport's tags."""
        mine = [r for r in conformance.provider.list_resources(conformance.target) if r.deployment == conformance.name]
        assert mine and all(isinstance(r, Resource) for r in mine), "no tagged resource for the deployment"
        serving = conformance.recorded()
        tagged = [r for r in mine if r.revision == serving["revision"]]
        assert tagged, f"no resource tagged with the serving revision {serving['revision']}: {mine}"
        assert all(r.digest in (None, serving["digest"]) for r in tagged), f"wrong digest tag: {tagged}"

    # -- primitives ---------------------------------------------------------------------------------
    def test_revision_create_and_delete(self, conformance: ConformanceEnv):
        """create_revision is idempotent and does not take traffic; delete_revision is too."""
        p, t = conformance.provider, conformance.target
        base = _revision_spec(conformance)
        before = conformance.observe()
        rev = with_config(replace(base, revision="r90", env={**base.env, "CONFORMANCE": "extra"}), t.settings)
        created = p.create_revision(t, rev)
        assert isinstance(created, Revision) and created.name == "r90", f"create_revision returned {created!r}"
        p.create_revision(t, rev)  # the same again is not an error
        observed = conformance.observe()
        assert observed.revision("r90") is not None, "observe must list the new revision"
        assert observed.traffic == before.traffic, "a new revision must not take traffic"
        assert observed.revision("r90").config == rev.config, "observe must report the config hash"
        try:
            if p.capabilities.traffic_split:
                self._split(conformance, base.revision)
        finally:
            p.delete_revision(t, conformance.name, "r90")
            p.delete_revision(t, conformance.name, "r90")  # deleting a missing revision is fine
        after = conformance.observe()
        assert after.revision("r90") is None, "delete_revision must delete the revision (observe still lists r90)"
        assert after.traffic == before.traffic, f"deleting r90 changed traffic: {before.traffic} -> {after.traffic}"
        conformance.assert_no_orphans()

    @staticmethod
    def _split(env: ConformanceEnv, serving: str) -> None:
        p, t = env.provider, env.target
        import time
        deadline = time.monotonic() + env.ct.gate_timeout
        while not p.health(t, env.name, "r90").ready:
            assert time.monotonic() < deadline, "revision r90 never became ready"
            time.sleep(2)
        p.set_traffic(t, env.name, {serving: 90, "r90": 10})
        assert env.observe().traffic == {serving: 90, "r90": 10}, "set_traffic weights not observed"
        p.set_traffic(t, env.name, {serving: 100})
        assert env.observe().traffic == {serving: 100}, "set_traffic back to 100% not observed"

    # -- strategies ---------------------------------------------------------------------------------
    def test_canary_or_refusal(self, conformance: ConformanceEnv):
        """With traffic split, a canary passes a 50/50 step; without, it is refused before any change."""
        seen: list[dict] = []
        conformance.session.before_step = (lambda i, step: step.op == "gate"
                                           and seen.append(dict(conformance.observe().traffic)))
        before = _snapshot(conformance)
        try:
            if not conformance.provider.capabilities.traffic_split:
                with pytest.raises(CapabilityError):
                    api.swap(conformance.project(2), TARGET, strategy="canary", session=conformance.session)
                assert _snapshot(conformance) == before, "a refused canary must change nothing"
                result = api.swap(conformance.project(2), TARGET, strategy="blue-green", session=conformance.session)
            else:
                result = api.swap(conformance.project(2), TARGET, strategy="canary", steps=[50, 100],
                                  session=conformance.session)
                assert any(len(w) == 2 and sorted(w.values()) == [50, 50] for w in seen), \
                    f"the canary never split 50/50 (traffic at each gate: {seen})"
        finally:
            conformance.session.before_step = None
        assert conformance.observe().traffic == {result.revision: 100}, f"traffic after the swap: {conformance.observe().traffic}"
        assert conformance.served_version() == 2, "after the swap version 2 must serve"
        conformance.assert_no_orphans()

    def test_rollback(self, conformance: ConformanceEnv):
        """rollback() returns all traffic to version 1."""
        result = api.rollback(conformance.name, TARGET, session=conformance.session)
        assert result.status == "succeeded", f"rollback ended {result.status}"
        assert conformance.served_version() == 1, "after rollback version 1 must serve"
        assert conformance.observe().traffic == {conformance.recorded()["revision"]: 100}, "rollback traffic"

    def test_analysis_rolls_back_a_slow_version(self, conformance: ConformanceEnv):
        """A version slow under load is rolled back by the analysis gate; version 1 keeps serving.

        The version answers the smoke request but takes SLOW_S per prediction; [rollout.analysis]
        fails it, nothing is left of the new revision. The gate reaches the revision where
        health() says, with the headers health() and endpoint_headers() give."""
        if not conformance.ct.runs_images:
            pytest.skip("the provider declares it runs no image (runs_images=False): no slow model to plant")
        before = _snapshot(conformance)
        slow = conformance.project(2, sleep=SLOW_S, analysis=SLOW_ANALYSIS)
        with pytest.raises(HealthGateFailed) as caught:
            api.swap(slow, TARGET, strategy="blue-green", session=conformance.session)
        details = caught.value.details
        assert details.get("check") == "analysis", f"the swap must fail in the analysis gate: {caught.value}"
        assert "max_p99_ms" in details["actual"].get("breach", ""), f"the breach must be latency: {details}"
        assert _snapshot(conformance) == before, f"not rolled back: {before} -> {_snapshot(conformance)}"
        assert conformance.served_version() == 1, "after the analysis failed version 1 must serve"
        conformance.assert_no_orphans()

    def test_migrate_to_a_peer_target(self, conformance: ConformanceEnv):
        """migrate() moves the serving revision (same digest) to a second target of this provider,
        compares outputs, and leaves the source serving."""
        if conformance.ct.peer_settings is None:
            pytest.skip("the provider declares no peer target")
        p = conformance.provider
        settings = {k: v for k, v in conformance.ct.peer_settings.items() if k != "provider"}
        peer_target = Target(PEER, p.name, p.settings_model.model_validate(settings))
        source = conformance.recorded()
        try:
            result = api.migrate(conformance.name, TARGET, PEER, session=conformance.session)
            assert result.status == "succeeded", f"migrate ended {result.status}"
            [peer] = conformance.session.state.deployments(conformance.name, PEER)
            assert peer["digest"] == source["digest"], "migrate must move the same image digest"
            observed = p.observe(peer_target, conformance.name)
            assert observed.traffic == {peer["revision"]: 100}, f"peer traffic: {observed.traffic}"
            # the peer's endpoint with the peer's own headers (a host name, a token), not the source's
            peer_headers = dict(p.endpoint_headers(peer_target, conformance.name))
            assert conformance.served_version(observed.endpoint, peer_headers) == 1, "the peer must serve version 1"
            assert conformance.served_version() == 1, "the source must keep serving"
        finally:
            if conformance.session.state.deployments(conformance.name, PEER):
                api.destroy(conformance.name, PEER, session=conformance.session)
            else:
                p.destroy(peer_target, conformance.name)

    def test_fault_at_every_primitive_rolls_back(self, conformance: ConformanceEnv):
        """A swap whose first call of a write primitive fails leaves version 1 serving, state and
        cloud in agreement, and no orphaned resource -- for every write primitive a swap uses."""
        strategy = "all-at-once" if conformance.provider.capabilities.in_place_update else "blue-green"
        recorder = faulty(conformance.provider, "")
        api.swap(conformance.project(2, extra_env={"FAULT": "none"}), TARGET, strategy=strategy,
                 session=conformance.session_with(recorder))
        self._restore_v1(conformance, strategy)
        used = [p for p in PRIMITIVES if p in recorder.calls and p != "health"]  # the gate retries health
        assert used, f"a swap called no write primitive: {recorder.calls}"
        for primitive in used:
            before = _snapshot(conformance)
            wrapper = faulty(conformance.provider, primitive)
            try:
                api.swap(conformance.project(2, extra_env={"FAULT": primitive}), TARGET, strategy=strategy,
                         session=conformance.session_with(wrapper))
            except ModelportError as exc:
                assert primitive in str(exc), f"the error must name the failed call: {exc}"
            else:
                assert primitive not in wrapper.calls, f"{primitive} failed but the swap completed"
                self._restore_v1(conformance, strategy)  # this swap took another path: nothing to check
                continue
            after = _snapshot(conformance)
            assert after == before, f"fault in {primitive}: not rolled back ({before} -> {after})"
            assert conformance.served_version() == 1, f"fault in {primitive}: version 1 no longer serves"
            conformance.assert_no_orphans()

    @staticmethod
    def _restore_v1(env: ConformanceEnv, strategy: str) -> None:
        if strategy == "all-at-once":  # replaced in place: there is no earlier revision to return to
            api.swap(env.project(1), TARGET, strategy=strategy, session=env.session)
        else:
            api.rollback(env.name, TARGET, session=env.session)
        assert env.served_version() == 1, "after a swap and a rollback (or a swap back) version 1 must serve"

    # -- errors -------------------------------------------------------------------------------------
    def test_sdk_errors_become_modelport_errors(self, conformance: ConformanceEnv):
        """A failing platform call raises a ProviderError (never the SDK's own exception), and the
        message does not echo secret-looking settings. The provider is called directly, without
        the containment modelport wraps around plugins at run time."""
        bad = conformance.ct.bad_settings
        if bad is None:
            pytest.skip("the provider declares no bad target")
        p = conformance.provider
        target = Target("bad", bad["provider"], p.settings_model.model_validate(
            {k: v for k, v in bad.items() if k != "provider"}))
        raw = getattr(p, "inner", p)  # modelport's plugin containment would turn any exception into a PluginError
        try:
            raw.observe(target, conformance.name)
        except ProviderError as exc:
            text = str(exc)
        except Exception as exc:
            raise AssertionError(f"observe on an unreachable target raised {type(exc).__name__} ({exc}), not a "
                                 "modelport.errors.ProviderError: map the SDK's exceptions") from None
        else:
            raise AssertionError("observe on the unreachable target (bad_settings) did not fail")
        for key, value in bad.items():
            if any(word in key.lower() for word in ("secret", "password", "token", "key")) and isinstance(value, str):
                assert value not in text, f"the error shows setting {key}"
        self._retryable_errors(conformance, raw)

    @staticmethod
    def _retryable_errors(env: ConformanceEnv, raw) -> None:
        """Throttling (429) and server errors (5xx) are ProviderErrors with ``retryable=True``."""
        if env.ct.api_settings is None:
            return
        with ErrorAPI() as cloud:
            settings = {k: v for k, v in env.ct.api_settings(cloud.url).items() if k != "provider"}
            target = Target("api", raw.name, raw.settings_model.model_validate(settings))
            for cloud.status in (429, 503):
                try:
                    raw.observe(target, env.name)
                except ProviderError as exc:
                    assert exc.retryable, f"the cloud API answered {cloud.status}: the ProviderError must say " \
                                          f"retryable=True (trying again later may succeed): {exc}"
                except Exception as exc:
                    raise AssertionError(f"the cloud API answered {cloud.status}: observe raised "
                                         f"{type(exc).__name__} ({exc}), not a ProviderError") from None
                else:
                    raise AssertionError(f"the cloud API answered {cloud.status} but observe did not fail")

    # -- last -----------------------------------------------------------------------------------------
    def test_destroy_leaves_nothing(self, conformance: ConformanceEnv):
        """destroy() removes every resource of the deployment; a second destroy plans nothing."""
        api.destroy(conformance.name, TARGET, session=conformance.session)
        assert not conformance.observe().exists, f"observe after destroy: {conformance.observe()}"
        left = [r for r in conformance.provider.list_resources(conformance.target)
                if r.deployment == conformance.name]
        assert not left, f"tagged resources left after destroy: {left}"
        again = api.destroy(conformance.name, TARGET, spec=conformance.project(1), session=conformance.session)
        assert again.plan.empty, f"a second destroy must plan nothing: {again.plan.changes}"
