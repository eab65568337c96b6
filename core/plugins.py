"""Loading provider plugins from the ``modelport.providers`` entry points.

Built-in providers load exactly like third-party ones. A plugin that fails to import, raises in
its hook, or registers something that is not a valid provider is recorded as a problem with the
plugin's name; the other providers keep working.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import pluggy

from . import hookspecs
from .errors import ModelportError, NotFound, PluginError
from .provider import PROVIDER_API_VERSION, PROVIDER_METHODS, Capabilities, Provider

ENTRY_POINT_GROUP = "modelport.providers"


@dataclass
class PluginProblem:
    """A plugin that could not be loaded, or a provider that was refused."""

    plugin: str
    message: str


@dataclass
class ProviderRegistry:
    """The loaded providers by name, which plugin registered each, and what went wrong."""

    providers: dict[str, Provider] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    problems: list[PluginProblem] = field(default_factory=list)

    def get(self, name: str) -> Provider:
        """The provider called ``name`` (wrapped by :func:`contained`); :class:`NotFound` lists
        the known ones."""
        try:
            return contained(self.providers[name], self.origin.get(name, name))
        except KeyError:
            broken = [p for p in self.problems if p.plugin == name]
            if broken:
                raise PluginError(name, broken[0].message) from None
            known = ", ".join(sorted(self.providers)) or "none"
            raise NotFound(f"no provider named {name!r} (installed: {known})",
                           hint="install the plugin that provides it") from None

    def register(self, plugin: str, provider: object) -> None:
        """Check and add one provider; refusals become problems, never exceptions."""
        problem = _check_provider(provider)
        if problem is None and provider.name in self.providers:
            problem = (f"provider name {provider.name!r} is already registered by plugin "
                       f"{self.origin[provider.name]!r}")
        if problem:
            self.problems.append(PluginProblem(plugin, problem))
            return
        self.providers[provider.name] = provider
        self.origin[provider.name] = plugin


def _check_provider(provider: object) -> str | None:
    if not isinstance(provider, Provider):
        return f"registered {type(provider).__name__}, which is not a modelport.provider.Provider"
    name = getattr(provider, "name", None)
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        return f"provider name {name!r} must be a lowercase identifier"
    if inspect.isabstract(type(provider)):
        missing = ", ".join(sorted(type(provider).__abstractmethods__))
        return f"provider {name!r} does not implement: {missing}"
    if not isinstance(getattr(provider, "capabilities", None), Capabilities):
        return f"provider {name!r} has no Capabilities"
    if provider.api_version > PROVIDER_API_VERSION:
        return (f"provider {name!r} needs provider API {provider.api_version}, this modelport "
                f"speaks {PROVIDER_API_VERSION}: upgrade modelport")
    return None


_wrappers: dict[int, Provider] = {}


def contained(provider: Provider, plugin: str) -> Provider:
    """``provider`` with its bugs contained: an exception that is not a modelport error (a
    KeyError in a plugin, an SDK exception it forgot to map) becomes a :class:`PluginError`
    naming the plugin, the method and the exception, so the engine undoes the operation and the
    user sees who failed instead of a traceback. modelport errors pass through unchanged."""
    cached = _wrappers.get(id(provider))
    if cached is not None and cached.inner is provider:  # type: ignore[attr-defined]
        return cached

    def guard(method: str):
        def call(self, *args, **kwargs):
            try:
                return getattr(provider, method)(*args, **kwargs)
            except ModelportError:
                raise
            except Exception as exc:
                raise PluginError(plugin, f"provider {provider.name!r} raised {type(exc).__name__} in "
                                          f"{method}(): {exc}",
                                  hint="this is a bug in the plugin; report it to its authors") from exc
        call.__name__ = method
        return call

    attrs = {"name": provider.name, "capabilities": provider.capabilities, "api_version": provider.api_version,
             "settings_model": provider.settings_model, "description": provider.description,
             "inner": provider, "plugin": plugin, "__getattr__": lambda self, attr: getattr(provider, attr),
             **{m: guard(m) for m in PROVIDER_METHODS}}
    wrapper = type(f"Contained{type(provider).__name__}", (Provider,), attrs)()
    _wrappers[id(provider)] = wrapper
    return wrapper


def make_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager that knows modelport's hook specs."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def load_providers(extra_plugins: dict[str, object] | None = None,
                   use_entry_points: bool = True) -> ProviderRegistry:
    """Load every plugin of the entry-point group (plus ``extra_plugins``, name -> module/object,
    used by tests) and collect the providers they register."""
    registry = ProviderRegistry()
    pm = make_plugin_manager()
    candidates: list[tuple[str, object]] = []
    if use_entry_points:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                candidates.append((ep.name, ep.load()))
            except Exception as exc:  # a broken plugin must not break the others
                registry.problems.append(PluginProblem(ep.name, f"failed to import: {type(exc).__name__}: {exc}"))
    candidates.extend((extra_plugins or {}).items())
    for name, plugin in candidates:
        _register_plugin(pm, registry, name, plugin)
    return registry


def _register_plugin(pm: pluggy.PluginManager, registry: ProviderRegistry, name: str, plugin: object) -> None:
    wanted = getattr(plugin, "MODELPORT_HOOKSPEC_VERSION", 1)
    if not isinstance(wanted, int) or wanted > hookspecs.HOOKSPEC_VERSION:
        registry.problems.append(PluginProblem(name, f"needs modelport hook specs version {wanted!r}, this "
                                                     f"modelport has {hookspecs.HOOKSPEC_VERSION}: upgrade modelport"))
        return
    try:
        pm.register(plugin, name=name)
        pm.check_pending()  # hook implementations with no spec are errors
    except Exception as exc:
        if pm.is_registered(plugin):
            pm.unregister(plugin)
        registry.problems.append(PluginProblem(name, f"invalid plugin: {exc}"))
        return
    impl = getattr(plugin, "modelport_register_providers", None)
    if impl is None:
        return
    try:
        offered = {"register": lambda provider: registry.register(name, provider)}
        # like pluggy: an implementation gets only the arguments it names (hooks may gain some)
        named = inspect.signature(impl).parameters
        impl(**{k: v for k, v in offered.items() if k in named})
    except Exception as exc:
        registry.problems.append(PluginProblem(name, f"raised in modelport_register_providers: "
                                                     f"{type(exc).__name__}: {exc}"))


_default: ProviderRegistry | None = None


def default_registry() -> ProviderRegistry:
    """The providers installed in this Python environment (loaded once)."""
    global _default
    if _default is None:
        _default = load_providers()
    return _default
