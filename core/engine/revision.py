"""From a spec and an image to a provider-neutral RevisionSpec (and back from plan data)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from typing import Any

from ..provider import ImageRef, RevisionSpec, Size
from ..spec import API_KEY_ENV, Spec


def size_of(spec: Spec) -> Size:
    r = spec.resources
    return Size(cpu=r.cpu, memory_mib=r.memory, gpu=r.gpu, gpu_type=r.gpu_type)


def revision_spec(spec: Spec, image: ImageRef, revision: str, size: Size | None = None,
                  target_settings: Any = None) -> RevisionSpec:
    """The neutral revision for ``spec`` with ``image``; ``config`` hashes everything that makes
    two revisions differ besides their name (so an unchanged spec plans nothing)."""
    rev = RevisionSpec(deployment=spec.deployment, revision=revision, image=image, size=size or size_of(spec),
                       port=spec.serving.port, env=dict(spec.env), secrets=runtime_secrets(spec),
                       min_instances=spec.scaling.min_instances, max_instances=spec.scaling.max_instances,
                       concurrency=spec.scaling.concurrency, model_name=spec.model.name,
                       model_version=spec.model.version, config="", platform=spec.build.platform)
    return with_config(rev, target_settings)


def runtime_secrets(spec: Spec) -> dict[str, str]:
    """The revision's secret references: ``[secrets]`` and, with ``[access] api_key``, the key the
    runtime enforces (a secret like any other, so each cloud delivers it its own secret way)."""
    secrets = dict(spec.secrets)
    if spec.access.api_key:
        secrets[API_KEY_ENV] = spec.access.api_key
    return secrets


def with_config(rev: RevisionSpec, target_settings: Any = None) -> RevisionSpec:
    """``rev`` with its ``config`` hash recomputed for a target's settings."""
    settings = target_settings.model_dump(mode="json") if hasattr(target_settings, "model_dump") else {}
    fields = {"digest": rev.image.digest, "size": asdict(rev.size), "port": rev.port, "env": dict(rev.env),
              "secrets": dict(rev.secrets), "scaling": [rev.min_instances, rev.max_instances, rev.concurrency],
              "settings": settings}
    if rev.platform != "linux/amd64":  # only then, so the hashes of existing deployments stay the same
        fields["platform"] = rev.platform
    return replace(rev, config=hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16])


def to_data(rev: RevisionSpec) -> dict[str, Any]:
    """JSON-ready form for the journal (no secret values)."""
    data = asdict(rev)
    data.pop("secret_values", None)
    return data


def from_data(data: dict[str, Any]) -> RevisionSpec:
    data = dict(data)
    data.pop("secret_values", None)
    return RevisionSpec(**{**data, "image": ImageRef(**data["image"]), "size": Size(**data["size"])})


def renamed(rev: RevisionSpec, revision: str) -> RevisionSpec:
    return replace(rev, revision=revision)


def next_revision_name(existing: list[str]) -> str:
    """``r<N+1>`` after the highest ``r<N>`` seen on the target or in history."""
    numbers = [int(n[1:]) for n in existing if n.startswith("r") and n[1:].isdigit()]
    return f"r{max(numbers, default=0) + 1}"
