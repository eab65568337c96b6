"""What Container Apps cannot run, refused at ``validate`` (pure)."""

from __future__ import annotations

import re
from typing import Any

from modelport.errors import SpecError, SpecErrors

from . import translate as tr

# Container app names: 2-32 lowercase letters, digits and '-', start with a letter, end with a
# letter or digit, no '--' (resource-name-rules, Microsoft.App/containerApps)
_APP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")


def _name_field(spec: Any) -> str:
    return "name" if spec.name else "model.name"


def spec_problems(spec: Any) -> list[SpecError]:
    """Every reason Container Apps cannot run ``spec``."""
    out = []
    name = tr.app_name(spec.deployment)
    if not _APP_NAME.match(name) or "--" in name:
        out.append(SpecError("", _name_field(spec), f"container app name {name!r} must be 2-32 lowercase letters, "
                             "digits and single '-', starting with a letter and ending with a letter or digit",
                             hint="set name = \"" + re.sub("-{2,}", "-", name.lower())[:32].strip("-") + "\""))
    for env_name, ref in spec.secrets.items():
        if ref.startswith(f"{tr.SECRET_SCHEME}:"):
            try:
                tr.check_secret_ref(env_name, ref)
            except SpecError as exc:
                out.append(exc)
    return out


def check_spec(spec: Any) -> None:
    """Raise SpecErrors listing :func:`spec_problems` (none: return)."""
    problems = spec_problems(spec)
    if problems:
        raise SpecErrors(problems)


def scaling_note(min_instances: int, max_instances: int, concurrency: int) -> str:
    """What the scaling keys become (shown by ``plan``)."""
    zero = " (scales to zero when idle)" if min_instances == 0 else ""
    return (f"replicas {min_instances}..{max_instances}{zero}; HTTP scale rule: {concurrency} concurrent "
            "requests per replica")
