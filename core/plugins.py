"""Loading plugins from the ``modelport.providers`` entry points with one pluggy plugin manager.

Built-in providers load exactly like third-party ones. Each plugin is registered with the plugin
manager (which checks its hook implementations against :mod:`modelport.hookspecs`), then its
registration hooks are called through pluggy for that plugin alone, so a plugin that fails to
import, raises in a hook, or registers something that is not a valid provider or command is
recorded as a problem with the plugin's name while the other plugins keep working. The plugin
manager lives as long as the providers it loaded (:attr:`LoadedProviders.pm`).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable

import click
import pluggy

from . import hookspecs
from .errors import ModelportError, NotFound, PluginError
from .provider import PROVIDER_API_VERSION, Capabilities, Provider, ProviderProxy

ENTRY_POINT_GROUP = "modelport.providers"


@dataclass
class PluginProblem:
    """A plugin that could not be loaded, or a provider or command of it that was refused."""

    plugin: str
    message: str


def make_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager that knows modelport's hook specs."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


@dataclass
class LoadedProviders:
    """What the loaded plugins offer: providers by name (and which plugin registered each), CLI
    commands by name, what went wrong, and the plugin manager that loaded them."""

    providers: dict[str, Provider] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    commands: dict[str, click.Command] = field(default_factory=dict)
    command_origin: dict[str, str] = field(default_factory=dict)
    problems: list[PluginProblem] = field(default_factory=list)
    #: plugin (entry-point name) -> the distribution that installed it, for messages
    distributions: dict[str, str] = field(default_factory=dict)
    pm: pluggy.PluginManager = field(default_factory=make_plugin_manager, repr=False)
    _contained: dict[str, Provider] = field(default_factory=dict, repr=False)

    def get(self, name: str) -> Provider:
        """The provider called ``name`` (wrapped by :class:`Contained`, one wrapper per provider);
        :class:`NotFound` lists the known ones."""
        if name in self.providers:
            if name not in self._contained:
                self._contained[name] = Contained(self.providers[name], self.origin.get(name, name))
            return self._contained[name]
        broken = [p for p in self.problems if p.plugin == name]
        if broken:
            raise PluginError(name, broken[0].message)
        known = ", ".join(sorted(self.providers)) or "none"
        raise NotFound(f"no provider named {name!r} (installed: {known})", hint="install the plugin that provides it")

    def add_plugin(self, name: str, plugin: object) -> None:
        """Register ``plugin`` with the plugin manager and collect what its hooks register."""
        wanted = getattr(plugin, "MODELPORT_HOOKSPEC_VERSION", 1)
        if not isinstance(wanted, int) or wanted > hookspecs.HOOKSPEC_VERSION:
            self.problem(name, f"needs modelport hook specs version {wanted!r}, this modelport has "
                               f"{hookspecs.HOOKSPEC_VERSION}: upgrade modelport")
            return
        try:
            hash(plugin)  # pluggy keeps plugins in sets: a module, or an object that can be hashed
            self.pm.register(plugin, name=name)
            self.pm.check_pending()  # hook implementations with no spec are errors
        except Exception as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self.problem(name, f"invalid plugin: {exc}")
            return
        self._call_alone(name, plugin, "modelport_register_providers", lambda p: self.add_provider(name, p))
        self._call_alone(name, plugin, "modelport_register_commands", lambda c: self.add_command(name, c))

    def _call_alone(self, name: str, plugin: object, hook: str, register: Callable[[Any], None]) -> None:
        """Call ``hook`` of ``plugin`` only (pluggy passes an implementation only the arguments it
        names), so that its exception is recorded against it and stops no other plugin."""
        others = [p for _name, p in self.pm.list_name_plugin() if p is not None and p is not plugin]
        try:
            self.pm.subset_hook_caller(hook, remove_plugins=others)(register=register)
        except Exception as exc:
            self.problem(name, f"raised in {hook}: {type(exc).__name__}: {exc}")

    def add_provider(self, plugin: str, provider: Provider) -> None:
        """Check and add one provider; refusals become problems, never exceptions."""
        problem = _check_provider(provider)
        if problem is None and provider.name in self.providers:
            problem = (f"provider name {provider.name!r} is already registered by plugin "
                       f"{self.origin[provider.name]!r}")
        if problem:
            self.problem(plugin, problem)
            return
        self.providers[provider.name] = provider
        self.origin[provider.name] = plugin

    def add_command(self, plugin: str, command: click.Command) -> None:
        """Check and add one CLI command; refusals become problems, never exceptions."""
        if not isinstance(command, click.Command) or not command.name:
            self.problem(plugin, f"registered {type(command).__name__} as a command, not a named click.Command")
        elif command.name in self.commands:
            self.problem(plugin, f"command {command.name!r} is already registered by plugin "
                                 f"{self.command_origin[command.name]!r}")
        else:
            self.commands[command.name] = command
            self.command_origin[command.name] = plugin

    def refuse_command(self, name: str, reason: str) -> None:
        """Drop the plugin command ``name`` (e.g. it clashes with a built-in command), saying why."""
        if self.commands.pop(name, None) is not None:
            self.problem(self.command_origin.pop(name), f"command {name!r} {reason}")

    def problem(self, plugin: str, message: str) -> None:
        """Record what went wrong with ``plugin``."""
        self.problems.append(PluginProblem(plugin, message))


_PROVIDER_NAME = re.compile(r"[a-z][a-z0-9_-]*")


def _check_provider(provider: object) -> str | None:
    if not isinstance(provider, Provider):
        return f"registered {type(provider).__name__}, which is not a modelport.provider.Provider"
    name = getattr(provider, "name", None)
    # what a spec writes after ``provider =``: lowercase letters, digits, '_' and '-' (as in the
    # entry-point names pip shows, e.g. "azure-apps"), starting with a letter
    if not isinstance(name, str) or not _PROVIDER_NAME.fullmatch(name):
        return (f"provider name {name!r} must be lowercase letters, digits, '_' or '-', "
                "starting with a letter")
    if inspect.isabstract(type(provider)):
        missing = ", ".join(sorted(type(provider).__abstractmethods__))
        return f"provider {name!r} does not implement: {missing}"
    if not isinstance(getattr(provider, "capabilities", None), Capabilities):
        return f"provider {name!r} has no Capabilities"
    if provider.api_version > PROVIDER_API_VERSION:
        return (f"provider {name!r} needs provider API {provider.api_version}, this modelport "
                f"speaks {PROVIDER_API_VERSION}: upgrade modelport")
    return None


class Contained(ProviderProxy):
    """A provider with its bugs contained: an exception that is not a modelport error (a KeyError
    in a plugin, an SDK exception it forgot to map) becomes a :class:`PluginError` naming the
    plugin, the method and the exception, so the engine undoes the operation and the user sees who
    failed instead of a traceback. modelport errors pass through unchanged."""

    def __init__(self, inner: Provider, plugin: str) -> None:
        super().__init__(inner)
        self.plugin = plugin

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return super()._call(method, *args, **kwargs)
        except ModelportError:
            raise
        except Exception as exc:
            raise PluginError(self.plugin, f"provider {self.name!r} raised {type(exc).__name__} in {method}(): {exc}",
                              hint="this is a bug in the plugin; report it to its authors") from exc


def load_providers(extra_plugins: dict[str, object] | None = None,
                   use_entry_points: bool = True) -> LoadedProviders:
    """Load every plugin of the entry-point group (plus ``extra_plugins``, name -> module/object,
    used by tests) and collect the providers and commands they register."""
    loaded = LoadedProviders()
    candidates: list[tuple[str, object]] = []
    if use_entry_points:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.dist is not None:
                loaded.distributions[ep.name] = ep.dist.name
            try:
                candidates.append((ep.name, ep.load()))
            except Exception as exc:  # a broken plugin must not break the others
                loaded.problem(ep.name, f"failed to import: {type(exc).__name__}: {exc}")
    candidates.extend((extra_plugins or {}).items())
    for name, plugin in candidates:
        loaded.add_plugin(name, plugin)
    return loaded


_default: LoadedProviders | None = None


def installed_providers() -> LoadedProviders:
    """The plugins installed in this Python environment (loaded once)."""
    global _default
    if _default is None:
        _default = load_providers()
    return _default
