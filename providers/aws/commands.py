"""The command the aws plugin adds to the ``modelport`` CLI: ``iam-policy``."""

from __future__ import annotations

import json
from pathlib import Path

from modelport import Session, api
from modelport.cli import PATH, TO, command
from modelport.errors import CapabilityError


@command(None, "iam-policy")
@PATH
@TO
def iam_policy(session: Session, path: Path | None, target: str):
    """Print the least-privilege IAM policy the target's provider needs (JSON)."""
    loaded = api.validate(path, session)
    provider, t = session.target(loaded, target)
    builder = getattr(provider, "iam_policy", None)
    if builder is None:
        raise CapabilityError(f"provider {provider.name!r} (target {target!r}) has no IAM policy to print")
    policy = builder(t)
    return policy, json.dumps(policy, indent=2)

