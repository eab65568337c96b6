"""Bad command-line input, refused by the CLI before anything is built or any cloud is called.

Exit code 2 (bad input) for every case here: a usage error click finds (also as JSON with
``--output json``), argv bytes that are not UTF-8, a state file that cannot be opened, ``--steps``
and ``--gate-timeout`` out of their range, and what the spec and the target already tell cannot
work (secret references the target cannot use or that cannot be resolved here, canary without
traffic split, anything the provider's pure ``translate`` refuses).
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

import click

from . import api
from .cli_group import JsonErrorsGroup, wants_json  # noqa: F401  (defined there, light to import)
from .engine.revision import revision_spec, size_of
from .engine.session import Session, check_secret_refs, resolve_secret_values
from .engine.strategies import check_canary
from .errors import SpecError, SpecErrors, UsageError
from .provider import ImageRef, Provider, Target
from .spec import LoadedSpec, RolloutSection
from .state import StateStore


def check_text(params: dict[str, Any]) -> None:
    """Names and values must be text: argv bytes that are not UTF-8 arrive as lone surrogates,
    which no state store, cloud API or terminal accepts (paths may hold them: they name files)."""
    for key, value in params.items():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise UsageError(f"{key.replace('_', '-')}: {value.encode('utf-8', 'replace').decode()!r} "
                                 "is not valid UTF-8 text") from None


def open_state(url: str | Path | None) -> StateStore:
    """The state store ``url`` names (a path or a URL); a UsageError naming it when the scheme is
    unknown or a SQLite file cannot be opened (a folder, no permission)."""
    try:
        return StateStore(url) if url else StateStore()
    except (OSError, sqlite3.Error) as exc:
        raise UsageError(f"--state {url or '(default)'}: cannot open the state database: {exc}",
                         hint="set --state or MODELPORT_STATE to a file in a writable folder") from None


def parse_steps(value: str | None) -> list[int] | None:
    """``--steps`` as a list, checked by the same rule as ``rollout.steps`` (before any build)."""
    if value is None:  # not given ("" is given, and wrong)
        return None
    try:
        return RolloutSection(steps=[int(v) for v in value.split(",")]).steps
    except ValueError:  # int() or the rule (a pydantic ValidationError is a ValueError)
        raise UsageError(f"--steps {value[:80]!r}: write rising percents from 1 to 100 ending at 100 "
                         "(at most 20), e.g. 10,50,100") from None


def parse_time(value: str | None, option: str) -> float | None:
    """``--since``/``--until``: ISO 8601 (UTC when no offset is given) or Unix seconds."""
    import datetime as dt

    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"{option} {value[:80]!r} is not a time",
                             hint="write ISO 8601, e.g. 2026-12-06T07:00:00Z, or Unix seconds") from None
        when = when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
        return when.timestamp()
    if not math.isfinite(seconds):
        raise UsageError(f"{option} {value[:80]!r} is not a time")
    return seconds


def finite_seconds(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """click callback: FloatRange lets nan through."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of seconds", ctx, param)
    return value


def preflight(session: Session, path: Path | None, target: str, strategy: str | None,
              secret_values: bool = True) -> None:
    """What the spec and target already tell is impossible, refused before building (no cloud
    call): secret references the target cannot use or (``secret_values``, for commands that
    create revisions) that cannot be resolved here, canary where traffic cannot be split, and
    whatever the provider's translate refuses."""
    loaded = api.validate(path, session)
    provider, t = session.target(loaded, target)
    check_secret_refs(loaded, provider, target)
    check_canary(provider, target, strategy or loaded.spec.rollout.strategy)
    if secret_values:  # an unset env: variable, an unreadable file: (values are not kept)
        resolve_secret_values(loaded.spec.secrets, set(provider.capabilities.secret_schemes), loaded.root)
    _dry_translate(loaded, provider, t)


def _dry_translate(loaded: LoadedSpec, provider: Provider, target: Target) -> None:
    """``translate`` is pure: run it on a placeholder image so that what it refuses (env names the
    cloud reserves, ...) is said before the build, with the file."""
    digest = "sha256:" + "0" * 64
    image = ImageRef(digest, digest, f"preflight.invalid/{loaded.spec.deployment}@{digest}")
    rev = revision_spec(loaded.spec, image, "r1", size_of(loaded.spec), target.settings)
    try:
        provider.translate(rev, target)
    except SpecError as exc:
        raise SpecErrors([SpecError(str(loaded.file), exc.field, exc.reason, hint=exc.hint)]) from None
    except Exception:  # the placeholder is not a real image: translate runs again on the real one
        pass
