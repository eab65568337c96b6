"""Retry of safe provider primitives on the in-memory provider: a retryable fault is tried again
with backoff and the operation completes; the bound holds; errors that are not retryable, or
primitives that are not safe to repeat, fail at once; undos are retried too."""

from __future__ import annotations

import pytest

import modelport.api as mp
from modelport.engine import retry
from modelport.errors import ModelportError, ProviderError

from .conftest import image, loaded, write_spec
from .test_strategies import answer, deploy


@pytest.fixture(autouse=True)
def _short(monkeypatch):
    monkeypatch.setenv("MODELPORT_RETRY_ATTEMPTS", "3")
    monkeypatch.setenv("MODELPORT_RETRY_MAX_WAIT", "0.05")


@pytest.mark.parametrize("primitive,n", [("ensure_infrastructure", 1), ("create_revision", 1), ("health", 1),
                                         ("set_traffic", 1), ("observe", 2)])  # observe 1 is the plan's
def test_a_fault_once_is_retried_and_the_first_deploy_completes(memory, tmp_path, primitive, n):
    provider, session = memory
    log = []
    session.report = log.append
    provider.faults = {primitive: n}
    result = deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    assert result.status == "succeeded" and answer(result.endpoint) == "1"
    assert provider.calls[primitive] >= 2
    retried = [m for m in log if m.strip().startswith("retrying")]
    assert len(retried) == 1 and "injected fault" in retried[0] and "attempt 2 of 3" in retried[0]


@pytest.mark.parametrize("strategy", ["all-at-once", "blue-green", "canary"])
def test_a_fault_once_in_a_swap_is_retried(memory, tmp_path, strategy):
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    for primitive in ("create_revision", "set_traffic", "delete_revision"):
        provider.calls.clear()
        provider.faults = {primitive: 1}
        version = str(len(provider.traffic_log) + 1)
        result = deploy(session, write_spec(tmp_path / f"v{version}", version), version, strategy, [50, 100])
        assert result.status == "succeeded" and answer(result.endpoint) == version, primitive
        assert provider.calls[primitive] >= 2, primitive


def test_the_bound_holds_and_the_operation_rolls_back(memory, tmp_path):
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    provider.faults = {"create_revision": 0}  # every call fails
    provider.calls.clear()
    with pytest.raises(ProviderError, match="injected fault.*rolled back"):
        deploy(session, write_spec(tmp_path / "v2", "2"), "2", "blue-green")
    assert provider.calls["create_revision"] == 3
    assert provider.traffic["mem/demo"] == {"r1": 100} and set(provider.revisions["mem/demo"]) == {"r1"}


def test_undo_is_retried_so_the_rollback_completes(memory, tmp_path):
    provider, session = memory
    deploy(session, write_spec(tmp_path / "v1", "1"), "1")
    provider.calls.clear()
    # the new revision never becomes healthy; the undo's delete fails once
    provider.faults = {"health": 0, "delete_revision": 1}
    with pytest.raises(ModelportError) as caught:
        deploy(session, write_spec(tmp_path / "v2", "2"), "2", "blue-green")
    assert "ROLLBACK INCOMPLETE" not in caught.value.message
    assert provider.calls["delete_revision"] == 2
    provider.faults = {}
    assert set(provider.revisions["mem/demo"]) == {"r1"} and answer(provider.routers["mem/demo"].url) == "1"
    assert mp.gc(write_spec(tmp_path / "v1b", "1"), "mem", session=session) == []


def test_not_retryable_or_not_safe_fails_at_once():
    policy = retry.ProviderRetryPolicy(attempts=4, initial=0.01, max_wait=0.01, jitter=0)
    calls = []

    def failing(retryable: bool):
        def fn():
            calls.append(1)
            raise ProviderError("x", "op", "boom", retryable=retryable)
        return fn

    with pytest.raises(ProviderError):
        retry.call(failing(False), "set_traffic", policy, print, "set traffic")
    assert len(calls) == 1
    with pytest.raises(ProviderError):
        retry.call(failing(True), "push_image", policy, print, "push")
    assert len(calls) == 2
    with pytest.raises(ProviderError):
        retry.call(failing(True), "set_traffic", policy, print, "set traffic")
    assert len(calls) == 6


def test_policy_from_the_environment(monkeypatch):
    monkeypatch.setenv("MODELPORT_RETRY_ATTEMPTS", "1")
    assert retry.ProviderRetryPolicy.from_env().attempts == 1
    monkeypatch.delenv("MODELPORT_RETRY_ATTEMPTS")
    monkeypatch.delenv("MODELPORT_RETRY_MAX_WAIT")
    assert retry.ProviderRetryPolicy.from_env() == retry.ProviderRetryPolicy()
