"""The plugin contract. This one file is what a provider author reads first.

modelport uses pluggy with the project name ``modelport``. A plugin is a module (or object) with
functions decorated by :data:`hookimpl`, registered through the entry-point group
``modelport.providers``; the built-in providers load exactly the same way::

    # pyproject.toml of your plugin
    [project.entry-points."modelport.providers"]
    fly = "modelport_fly.plugin"

    # modelport_fly/plugin.py
    from modelport.hookspecs import hookimpl

    @hookimpl
    def modelport_register_providers(register):
        register(FlyProvider())

Hooks are few on purpose: everything cloud-specific lives on the
:class:`~modelport.provider.Provider` object a plugin registers (and in the commands it adds).
They are called through one pluggy plugin manager, for each plugin alone: a plugin that raises
is reported by name and the others keep working.

Versioning: :data:`HOOKSPEC_VERSION` numbers this contract. A plugin that needs hooks added in a
later version sets ``MODELPORT_HOOKSPEC_VERSION = N`` in its plugin module; an older modelport
then refuses it by name ("upgrade modelport") instead of silently never calling its hooks. Hook
names never change meaning. A changed hook gets a new name (``..._v2``) and the
old one keeps working; a hook may gain arguments, and pluggy passes an implementation only the
arguments it names, so existing implementations keep working; a provider states the :data:`~modelport.provider.PROVIDER_API_VERSION`
it was written for in ``Provider.api_version``, and core refuses (with the plugin's name) a
provider newer than itself instead of failing later in the middle of an operation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:
    import click

    from .provider import Provider

PROJECT = "modelport"
#: Version of this hook contract (bumped only when a hook is added).
HOOKSPEC_VERSION = 2

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def modelport_register_providers(register: Callable[[Provider], None]) -> None:
    """Register the providers this plugin offers.

    Called once, when the plugin is loaded. Every implementation is called (not
    ``firstresult``); each calls ``register`` once per provider it offers.

    :param register: call it with a :class:`~modelport.provider.Provider` instance. Core checks
        the provider (a unique ``name``, the abstract methods implemented, a supported
        ``api_version``) and records which plugin registered it; a rejected provider is reported
        with the plugin's name and does not stop other plugins.
    """


@hookspec
def modelport_register_commands(register: Callable[[click.Command], None]) -> None:
    """Add commands to the ``modelport`` CLI, for what only this plugin's platform has (the aws
    provider's ``iam-policy``). Added in hook specs version 2.

    Called once, when the plugin is loaded. Every implementation is called (not
    ``firstresult``); each calls ``register`` once per command. Build the command with
    :func:`modelport.cli.command` (``@command(None, "NAME")``) so that it gets a
    :class:`~modelport.Session`, ``--output json``, one-line errors and the exit codes of every
    other command.

    :param register: call it with a named ``click.Command``. Core refuses (reported with the
        plugin's name, never raised) a command that is not one, or whose name a built-in command
        or another plugin already uses.
    """
