"""The plugin manager: built-ins load through entry points; broken plugins are contained."""

from __future__ import annotations

import json
import types

from click.testing import CliRunner

from modelport.cli import main
from modelport.hookspecs import hookimpl
from modelport.plugins import load_providers
from modelport.provider import PROVIDER_API_VERSION, Capabilities, Provider

from modelport.testing.memory import MemoryProvider


def plugin(*providers, raises: Exception | None = None, make=None):
    module = types.ModuleType("plugin")

    @hookimpl
    def modelport_register_providers(register):
        if raises:
            raise raises
        for p in providers:
            register(p)
        if make:
            register(make())

    module.modelport_register_providers = modelport_register_providers
    return module


def test_builtins_load_through_entry_points():
    registry = load_providers()
    assert registry.origin["local"] == "local"
    assert not [p for p in registry.problems if p.plugin == "local"]


def test_duplicate_provider_name_is_refused_and_named():
    registry = load_providers({"first": plugin(MemoryProvider()), "second": plugin(MemoryProvider())},
                              use_entry_points=False)
    assert registry.origin["memory"] == "first"
    assert registry.problems[0].plugin == "second"
    assert "already registered by plugin 'first'" in registry.problems[0].message


def test_hookimpl_without_spec_is_refused():
    bad = types.ModuleType("typo")

    @hookimpl
    def modelport_register_providerz(register):
        pass

    bad.modelport_register_providerz = modelport_register_providerz
    registry = load_providers({"typo": bad, "good": plugin(MemoryProvider())}, use_entry_points=False)
    assert [p.plugin for p in registry.problems] == ["typo"]
    assert "modelport_register_providerz" in registry.problems[0].message
    assert "memory" in registry.providers


def test_raising_plugin_and_nonsense_are_contained():
    class Incomplete(Provider):
        name = "half"
        capabilities = Capabilities(traffic_split=False)

    class Future(MemoryProvider):
        name = "future"
        api_version = PROVIDER_API_VERSION + 1

    registry = load_providers({"boom": plugin(raises=RuntimeError("no credentials")),
                               "junk": plugin(object()), "half": plugin(make=Incomplete),
                               "future": plugin(Future()), "good": plugin(MemoryProvider())},
                              use_entry_points=False)
    problems = {p.plugin: p.message for p in registry.problems}
    assert "RuntimeError: no credentials" in problems["boom"]
    assert "not a modelport.provider.Provider" in problems["junk"]
    assert "raised in modelport_register_providers" in problems["half"] and "observe" in problems["half"]
    assert "upgrade modelport" in problems["future"]
    assert list(registry.providers) == ["memory"]


def test_providers_command_lists_capabilities_and_broken_plugins():
    result = CliRunner().invoke(main, ["providers", "-o", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    local = next(p for p in data["providers"] if p["name"] == "local")
    assert local["capabilities"]["traffic_split"] is False
    assert isinstance(data["problems"], list)


def test_unknown_provider_in_spec_is_bad_input(tmp_path):
    (tmp_path / "m.bin").write_text("x")
    (tmp_path / "modelport.toml").write_text(
        '[model]\nname="demo"\nversion="1"\npath="m.bin"\nframework="sklearn"\n[targets.x]\nprovider="nimbus"\n')
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "targets.x.provider" in result.output and "no provider named 'nimbus'" in result.output


def test_hook_specs_are_versioned():
    """A plugin needing a newer hook contract is refused by name; one written for this version or
    an older one (no declaration) loads; an implementation naming a subset of a hook's arguments
    keeps working (how hooks gain arguments without breaking plugins)."""
    from modelport.hookspecs import HOOKSPEC_VERSION

    newer = plugin(MemoryProvider())
    newer.MODELPORT_HOOKSPEC_VERSION = HOOKSPEC_VERSION + 1
    current = plugin(MemoryProvider())
    current.MODELPORT_HOOKSPEC_VERSION = HOOKSPEC_VERSION

    class NoArgs:
        @hookimpl
        def modelport_register_providers(self):  # names none of the hook's arguments
            NoArgs.called = True

    registry = load_providers({"newer": newer, "current": current, "noargs": NoArgs()}, use_entry_points=False)
    problems = {p.plugin: p.message for p in registry.problems}
    assert "upgrade modelport" in problems["newer"] and str(HOOKSPEC_VERSION + 1) in problems["newer"]
    assert registry.origin["memory"] == "current"
    assert NoArgs.called


def test_plugin_commands_join_the_cli_and_bad_ones_are_refused(monkeypatch, tmp_path):
    """A command a plugin registers is a command of the CLI (with --output json and exit codes);
    one that is not a click command, or takes a built-in's name, is refused naming the plugin."""
    import click

    import modelport.plugins as plugins
    from modelport.cli import command

    @command(None, "hello")
    @click.option("--to", "target", required=True)
    def hello(session, target):
        return {"hello": target}, f"hello {target}"

    @command(None, "status")
    def shadow(session):
        return {}, "not the real status"

    def commands(*registered):
        module = types.ModuleType("commands")
        module.MODELPORT_HOOKSPEC_VERSION = 2

        @hookimpl
        def modelport_register_commands(register):
            for c in registered:
                register(c)

        module.modelport_register_commands = modelport_register_commands
        return module

    loaded = load_providers({"greeter": commands(hello), "junk": commands("not a command"),
                             "shadow": commands(shadow)}, use_entry_points=False)
    monkeypatch.setattr(plugins, "_default", loaded)
    result = CliRunner().invoke(main, ["--state", str(tmp_path / "state.db"), "hello", "--to", "dev", "-o", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == {"hello": "dev"}
    assert "hello" in CliRunner().invoke(main, ["--help"]).output
    assert CliRunner().invoke(main, ["hello"]).exit_code == 2  # click's usage error: --to missing
    assert main.get_command(click.Context(main), "status") is main.commands["status"]  # the built-in one
    problems = {p.plugin: p.message for p in loaded.problems}
    assert "not a named click.Command" in problems["junk"]
    assert "'status' has the name of a built-in command" in problems["shadow"]
