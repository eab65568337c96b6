"""What an operation needs around it: the state store, the providers, targets and secrets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pydantic import ValidationError

from ..errors import NotFound, PluginError, SpecError, SpecErrors, UsageError
from ..plugins import LoadedProviders, installed_providers
from ..provider import Provider, Target
from ..redact import remember
from ..spec import LoadedSpec, spec_error_from_settings
from ..state import StateStore
from .events import Event, EventSink, Message
from .steps import Step

Reporter = Callable[[str], None]


def _silent(_msg: str) -> None:
    """The default progress sink: say nothing."""


@dataclass
class Session:
    """Shared by every call of one command or script: state, providers, and where progress goes.

    ``on_event`` receives every typed event (:mod:`modelport.engine.events`: operation, step and
    gate start/finish with durations, retries, undo steps, build and push progress, and other
    progress lines as ``Message``). Without it, ``report`` receives each event as one line of
    text. ``wait_lock`` is how many seconds an operation waits for a lock that another live
    process holds before it fails with :class:`~modelport.errors.LockHeld` (default: none)."""

    state: StateStore = field(default_factory=StateStore)
    providers: LoadedProviders = field(default_factory=installed_providers)
    report: Reporter = _silent
    docker_host: str | None = None
    #: called with ``(index, step)`` right before each step an operation runs (a
    #: :class:`~modelport.engine.steps.Step`), e.g. to look at the cloud between two steps
    before_step: Callable[[int, Step], None] | None = None
    on_event: EventSink | None = None
    wait_lock: float = 0.0

    def __post_init__(self) -> None:
        if self.on_event is not None and self.report is _silent:  # progress lines become events too
            sink = self.on_event
            self.report = lambda msg: sink(Message(message=msg))

    def emit(self, event: Event) -> None:
        """Hand ``event`` to ``on_event`` (or its text to ``report``)."""
        if self.on_event is not None:
            self.on_event(event)
        else:
            self.report(event.text())

    def docker(self):
        """A Docker SDK client for builds (``DOCKER_HOST`` or the default socket)."""
        import docker

        from ..errors import BuildError
        try:
            client = docker.DockerClient(base_url=self.docker_host) if self.docker_host else docker.from_env()
            client.ping()
            return client
        except Exception as exc:
            raise BuildError(f"the Docker engine does not answer ({type(exc).__name__})",
                             hint="start Docker or set DOCKER_HOST") from None

    def target(self, loaded: LoadedSpec, name: str) -> tuple[Provider, Target]:
        """The provider and validated target ``[targets.NAME]`` of a spec."""
        section = loaded.spec.targets.get(name)
        if section is None:
            known = ", ".join(sorted(loaded.spec.targets)) or "none"
            raise NotFound(f"{loaded.file}: no target named {name!r} (defined: {known})",
                           hint=f"add a [targets.{name}] table")
        provider = self.providers.get(section.provider)
        try:
            settings = provider.settings_model.model_validate(section.settings)
        except ValidationError as exc:
            raise SpecErrors(spec_error_from_settings(str(loaded.file), name, exc, provider.settings_model)) from None
        from .access import with_access  # a provider whose endpoint requests carry [access]'s key
        return with_access(provider, loaded), Target(name, section.provider, settings)

    def validate_targets(self, loaded: LoadedSpec, sizes: bool = True) -> None:
        """Validate every target's settings and (with ``sizes``) the spec's size and what else
        each provider refuses in it (``check_spec``: names, scaling), no cloud call. Operations
        on deployed revisions (status, predict, resume, gc, migrate) skip those checks: a
        migration fits the size."""
        from .revision import size_of

        errors: list[SpecError] = []
        for name in loaded.spec.targets:
            try:
                provider, target = self.target(loaded, name)
            except SpecErrors as exc:
                errors.extend(exc.errors)
                continue
            except (NotFound, PluginError) as exc:
                errors.append(SpecError(str(loaded.file), f"targets.{name}.provider", exc.message, hint=exc.hint))
                continue
            errors += _refusals(loaded, name, lambda: check_platform(loaded, provider, name))
            if sizes:
                errors += _refusals(loaded, name, lambda: provider.check_size(size_of(loaded.spec), target))
                errors += _refusals(loaded, name, lambda: provider.check_spec(loaded.spec, target))
        if errors:
            raise SpecErrors(errors)


def _refusals(loaded: LoadedSpec, target: str, check: Callable[[], None]) -> list[SpecError]:
    """The SpecErrors one provider check raises, each with the spec's file (a provider does not
    know it) and the target's name when the error names no field."""
    try:
        check()
    except SpecErrors as exc:
        found = list(exc.errors)
    except SpecError as exc:
        found = [exc]
    except PluginError as exc:
        return [SpecError(str(loaded.file), f"targets.{target}.provider", exc.message, hint=exc.hint)]
    else:
        return []
    return [SpecError(str(loaded.file), e.field or f"targets.{target}", e.reason, hint=e.hint) for e in found]


CLIENT_SIDE_SCHEMES = ("env", "file")


def check_platform(loaded: LoadedSpec, provider: Provider, target: str) -> None:
    """The image platform (``build.platform``) must be one the target's provider runs."""
    platform, runs = loaded.spec.build.platform, provider.capabilities.platforms
    if platform not in runs:
        raise SpecError(str(loaded.file), "build.platform",
                        f"provider {provider.name!r} (target {target!r}) runs {' and '.join(runs)} images only, "
                        f"not {platform}", hint=f"set build.platform = \"{runs[0]}\" or remove the target")


def check_secret_refs(loaded: LoadedSpec, provider: Provider, target: str) -> None:
    """Every secret reference must be resolvable client-side or native to the provider."""
    native = set(provider.capabilities.secret_schemes)
    references = {f"secrets.{key}": ref for key, ref in loaded.spec.secrets.items()}
    if loaded.spec.access.api_key:
        references["access.api_key"] = loaded.spec.access.api_key
    for field_name, ref in references.items():
        scheme = ref.split(":", 1)[0]
        if scheme not in CLIENT_SIDE_SCHEMES and scheme not in native:
            allowed = ", ".join([*CLIENT_SIDE_SCHEMES, *sorted(native)])
            raise SpecError(str(loaded.file), field_name,
                            f"provider {provider.name!r} (target {target!r}) cannot use {scheme!r} references",
                            hint=f"use one of: {allowed}")


def resolve_secret_values(secrets: dict[str, str], native: set[str], root: Path | None) -> dict[str, str]:
    """Values for client-side references (``env:``/``file:``); native ones stay references.
    The values are handed to the provider only; they are never logged or stored, and errors and
    log records have them removed (:mod:`modelport.redact`)."""
    values = {}
    for key, ref in secrets.items():
        scheme, _, rest = ref.partition(":")
        if scheme in native:
            continue
        if scheme == "env":
            if rest not in os.environ:
                raise UsageError(f"secrets.{key}: environment variable {rest!r} is not set",
                                 hint=f"export {rest}=... before deploying")
            values[key] = os.environ[rest]
        elif scheme == "file":
            path = Path(rest) if Path(rest).is_absolute() or root is None else root / rest
            try:
                values[key] = path.read_text().strip()
            except OSError as exc:
                raise UsageError(f"secrets.{key}: cannot read {path}: {exc.strerror}") from None
    remember(*values.values())
    return values
