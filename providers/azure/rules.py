"""What Container Instances refuses in a spec, said at ``validate`` (pure; no cloud call).

* **Architecture.** ACI runs x64 (linux/amd64) images only: "Are ARM64 (arm64) container images
  supported? No. Azure Container Instances currently supports only x64 (AMD64) container images"
  (container-instances-faq, MicrosoftDocs/azure-compute-docs#478). The provider declares
  ``capabilities.platforms = (PLATFORM,)``, so ``validate`` refuses any other ``build.platform``.
* **Container group names** (``<deployment>-rN``): 1-63 characters, lowercase letters, digits and
  '-', not starting or ending with '-', no consecutive hyphens
  (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules,
  Microsoft.ContainerInstance containerGroups; the same wording in the Deployment Scripts
  ``containerGroupName`` reference). The spec's name rule (letter first, alphanumeric last, 2-40
  characters) leaves only the consecutive hyphens to refuse, and room for the ``-rN`` suffix.
* **DNS name labels** (``<dns_label_prefix or deployment>-rN``): lowercase letters, digits and
  '-', a letter first, a letter or digit last, 5-63 characters (ACI's InvalidDnsNameLabel message).
* **Scaling.** A revision is one container group, and a group is one instance that runs (and is
  billed) while it exists: the API has no replica count, scale rule or concurrency setting
  (``containerInstance-2023-05-01.json`` ``ContainerGroupProperties``, unlike Container Apps'
  ``template.scale``), so ACI has no autoscaling and no scale to zero. ``max_instances`` must be
  1 and ``min_instances`` 1; ``concurrency`` is not enforced (plan says so: :func:`scaling_note`).
"""

from __future__ import annotations

import re
from typing import Any

from modelport.errors import SpecError, SpecErrors

from .settings import AzureSettings

PLATFORM = "linux/amd64"
_GROUP_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z][a-z0-9-]{3,61}[a-z0-9]$")
MAX_NAME = 63
#: the longest revision suffix checked at validate ("-r" and 6 digits: a million revisions)
_WIDEST_REVISION = "r999999"


def group_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid container group name, or None."""
    if not 1 <= len(name) <= MAX_NAME:
        return f"container group name {name!r} is {len(name)} characters; Container Instances allows 1-63"
    if not _GROUP_NAME.match(name):
        return (f"container group name {name!r} may hold only lowercase letters, digits and '-', "
                "and must start and end with a letter or digit")
    if "--" in name:
        return f"container group name {name!r} has consecutive hyphens, which Container Instances refuses"
    return None


def dns_label_problem(label: str) -> str | None:
    """Why ``label`` is not a valid DNS name label, or None."""
    if not _DNS_LABEL.match(label):
        return (f"DNS name label {label!r} must be 5-63 characters of lowercase letters, digits and '-', "
                "starting with a letter and ending with a letter or digit")
    return None


def _name_field(spec: Any) -> str:
    return "name" if spec.name else "model.name"


def _names(spec: Any, settings: AzureSettings, target: str) -> list[SpecError]:
    out = []
    for revision in ("r1", _WIDEST_REVISION):
        why = group_name_problem(f"{spec.deployment}-{revision}")
        if why:
            hint = ("choose a name without '--', e.g. " + re.sub("-{2,}", "-", spec.deployment)
                    if "--" in spec.deployment else "use lowercase letters, digits and single '-', 2-40 characters")
            out.append(SpecError("", _name_field(spec), f"{why} (each revision is the group <name>-rN)", hint=hint))
            break
    if settings.subnet_id:
        return out  # private groups get no DNS label
    prefix = settings.dns_label_prefix or spec.deployment
    field = f"targets.{target}.dns_label_prefix" if settings.dns_label_prefix else _name_field(spec)
    why = dns_label_problem(f"{prefix}-r1") or dns_label_problem(f"{prefix}-{_WIDEST_REVISION}")
    if why:
        out.append(SpecError("", field, f"{why} (each revision's label is <prefix>-rN)",
                             hint="use a prefix of 2 to 50 characters"))
    return out


def _scaling(spec: Any) -> list[SpecError]:
    scaling, out = spec.scaling, []
    if scaling.max_instances != 1:
        out.append(SpecError("", "scaling.max_instances", f"Container Instances runs one container group per "
                             f"revision and has no autoscaling, so max_instances {scaling.max_instances} "
                             "cannot be honoured", hint="set scaling.max_instances = 1 for an azure target"))
    if scaling.min_instances == 0:
        out.append(SpecError("", "scaling.min_instances", "Container Instances cannot scale to zero: a "
                             "container group runs (and is billed) for as long as it exists",
                             hint="set scaling.min_instances = 1 for an azure target"))
    return out


def spec_problems(spec: Any, settings: AzureSettings, target: str = "azure") -> list[SpecError]:
    """Every reason Container Instances cannot run ``spec`` (a :class:`modelport.spec.Spec`) on the
    target named ``target`` with ``settings``."""
    return _names(spec, settings, target) + _scaling(spec)


def check_spec(spec: Any, settings: AzureSettings, target: str = "azure") -> None:
    """Raise SpecErrors listing :func:`spec_problems` (none: return)."""
    problems = spec_problems(spec, settings, target)
    if problems:
        raise SpecErrors(problems)


def scaling_note(min_instances: int, max_instances: int, concurrency: int) -> str:
    """What the scaling keys become on Container Instances (shown by ``plan``)."""
    instances = (f"min_instances {min_instances}, max_instances {max_instances} -> one container group, "
                 "always running (Container Instances has no autoscaling and cannot scale to zero")
    if (min_instances, max_instances) != (1, 1):
        instances += "; this revision runs exactly one instance"
    return (f"{instances}); concurrency {concurrency} -> not enforced: Container Instances sends every "
            "request to the group's one container")


def access_note(settings, keyed: bool) -> str:
    """What ``plan`` says about who can reach the groups. Container Instances serves the container's
    port as is: it terminates no TLS and checks no caller
    (https://learn.microsoft.com/azure/container-instances/container-instances-container-group-ssl:
    TLS needs a sidecar or a gateway in front), so the runtime's API key is the access control."""
    where = ("a private IP in the subnet (subnet_id): reachable from that virtual network only"
             if settings.subnet_id else "a public IP: reachable from the internet")
    key = ("the runtime requires the [access] api_key" if keyed else
           "no access control: anyone who can reach it may call the model; set [access] api_key")
    return f"{where}; plain HTTP (Container Instances has no TLS termination); {key}"
