"""What modelport's scaling keys become on Cloud Run, and what Cloud Run cannot do (pure).

=========================== ============================================ ===========================
modelport                   Cloud Run (RevisionTemplate)                  meaning there
=========================== ============================================ ===========================
``scaling.min_instances``   ``scaling.min_instance_count``               instances kept warm (billed
                                                                          while idle); 0 scales to
                                                                          zero (cold starts)
``scaling.max_instances``   ``scaling.max_instance_count``               the autoscaler's ceiling
``scaling.concurrency``     ``max_instance_request_concurrency``         requests one instance takes
                                                                          at once before another starts
=========================== ============================================ ===========================

Cloud Run scales on concurrent requests and CPU by itself; there is no policy to attach. It
refuses less than 1 vCPU with a concurrency above 1 or with instance-based billing (the CPU page,
https://cloud.google.com/run/docs/configuring/services/cpu, "If you use less than 1 vCPU"), and a
GPU needs instance-based billing (https://cloud.google.com/run/docs/configuring/services/gpu).
"""

from __future__ import annotations

from typing import Any

from modelport.errors import SpecError
from modelport.provider import RevisionSpec, Size

from .settings import GcpSettings
from .sizes import load_limits


def check_scaling(size: Size, concurrency: int, settings: GcpSettings, target: str = "") -> None:
    """Raise SpecError naming the field when Cloud Run cannot run ``size`` with this concurrency
    and billing (``target`` names the settings' table in the error)."""
    needed = load_limits().cpu["fractional_requires_max_concurrency"]
    if size.cpu < 1 and concurrency > needed:
        raise SpecError("", "scaling.concurrency", f"Cloud Run runs {size.cpu:g} vCPU (less than 1) "
                        f"only with concurrency {needed} (got {concurrency})",
                        hint=f"set scaling.concurrency = {needed}, or resources.cpu to 1 or more")
    if size.cpu < 1 and settings.cpu_always_allocated:
        where = f"targets.{target}.cpu_always_allocated" if target else "cpu_always_allocated"
        raise SpecError("", where, f"Cloud Run runs {size.cpu:g} vCPU (less than 1) only with request-based "
                        "billing (CPU allocated during requests)",
                        hint="set cpu_always_allocated = false, or resources.cpu to 1 or more")


def cpu_idle(size: Size, settings: GcpSettings) -> bool:
    """Request-based billing (``cpu_idle``): the setting, except that a GPU needs instance-based."""
    return not size.gpu and not settings.cpu_always_allocated


def _billing(size: Size, settings: GcpSettings) -> str:
    if size.gpu:
        return "instance-based (CPU always allocated): a GPU needs it"
    if cpu_idle(size, settings):
        return "request-based (CPU only while serving requests; cpu_always_allocated = false)"
    return "instance-based (CPU always allocated; cpu_always_allocated = true)"


def describe(rev: RevisionSpec, settings: GcpSettings) -> dict[str, Any]:
    """One line per scaling key for ``plan``: the value, the Cloud Run field, what it does."""
    low = ("scales to zero when idle; the first request after that waits for a cold start" if not rev.min_instances
           else f"{rev.min_instances} instance(s) kept warm, billed while idle")
    return {
        "scaling.min_instances": f"{rev.min_instances} -> template.scaling.min_instance_count = "
                                 f"{rev.min_instances} ({low})",
        "scaling.max_instances": f"{rev.max_instances} -> template.scaling.max_instance_count = "
                                 f"{rev.max_instances} (Cloud Run adds instances on load up to this)",
        "scaling.concurrency": f"{rev.concurrency} -> template.max_instance_request_concurrency = "
                               f"{rev.concurrency} (requests one instance serves at once)",
        "billing": _billing(rev.size, settings),
    }
