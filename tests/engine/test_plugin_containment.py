"""A provider bug (an exception that is not a modelport error) is contained: the operation is
undone, and the error names the plugin and the method instead of surfacing as a traceback."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import modelport.api as mp
from modelport.cli import main
from modelport.engine.session import Session
from modelport.errors import PluginError
from modelport.plugins import load_providers
from modelport.state import StateStore
from modelport.testing.memory import MemoryPlugin, MemoryProvider

from .conftest import image, loaded, memory_session, write_spec


class Buggy(MemoryProvider):
    """set_traffic fails like an unmapped SDK exception would."""

    def set_traffic(self, target, deployment, weights):
        if len(self.traffic_log) >= 1:
            raise KeyError("TrafficTargets")
        super().set_traffic(target, deployment, weights)


@pytest.fixture
def buggy(tmp_path):
    provider = Buggy()
    with memory_session(tmp_path, provider, "acme-memory") as session:
        yield provider, session


def test_provider_bug_is_undone_and_names_the_plugin(tmp_path, buggy):
    provider, session = buggy
    mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "mem", image("1"), session=session)
    with pytest.raises(PluginError) as caught:
        mp.deploy_image(loaded(write_spec(tmp_path / "v2", "2")), "mem", image("2"), strategy="blue-green",
                        session=session)
    message = str(caught.value)
    assert "acme-memory" in message and "set_traffic" in message and "KeyError" in message
    # undone: only r1 exists and serves everything
    assert sorted(provider.revisions["mem/demo"]) == ["r1"]
    assert provider.traffic["mem/demo"] == {"r1": 100}
    assert session.state.deployments("demo", "mem")[0]["revision"] == "r1"


def test_registry_hands_out_contained_providers(buggy):
    provider, session = buggy
    wrapped = session.providers.get("memory")
    assert wrapped.inner is provider and wrapped.plugin == "acme-memory"
    assert session.providers.get("memory") is wrapped  # one wrapper per provider
    assert wrapped.traffic is provider.traffic          # provider-specific attributes still reachable


def test_cli_reports_a_plugin_bug_with_exit_1_and_no_traceback(tmp_path, monkeypatch):
    class Exploding(MemoryProvider):
        def observe(self, target, deployment):
            raise RuntimeError("connection pool exhausted")

    state = tmp_path / "s.db"
    healthy = MemoryProvider()
    mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "mem", image("1"), session=Session(
        state=StateStore(state), providers=load_providers({"acme-memory": MemoryPlugin(healthy)}, use_entry_points=False)))
    healthy.close()
    import modelport.plugins as plugins
    monkeypatch.setattr(plugins, "_default",
                        load_providers({"acme-memory": MemoryPlugin(Exploding())}, use_entry_points=False))
    result = CliRunner().invoke(main, ["--state", str(state), "status", "demo", "-o", "json"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    error = json.loads(result.stdout)
    assert error["error"] == "PluginError"
    assert "acme-memory" in error["message"] and "observe" in error["message"]
    assert "connection pool exhausted" in error["message"]
