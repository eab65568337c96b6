"""Rules of the real AWS APIs that moto 5.2 does not enforce, installed into the moto server
process (``moto_process.py`` loads this package by path: that process has only moto on
``sys.path``). Every check cites its source next to it; the README's fidelity table lists them.

* ``ecs``: a deleted service is DRAINING (not listed, name not reusable, cluster not deletable)
  for its target groups' deregistration delay, then INACTIVE; CreateService on an ACTIVE name is
  refused unless it repeats the creating request's ``clientToken``; ListServices pages by 10.
* ``secrets``: a force-deleted secret is purged asynchronously; until then its name cannot be
  used again.
* ``logs``: PutRetentionPolicy accepts only CloudWatch Logs' fixed list of day counts.
* ``elbv2``: CreateLoadBalancer / CreateTargetGroup / CreateListener are idempotent for the same
  settings and refuse a duplicate name (or port) with other settings.
* ``autoscaling``: a scaling policy needs its scalable target; ``ALBRequestCountPerTarget`` needs a
  resource label naming a target group of the ECS service behind that load balancer;
  deregistering a scalable target deletes its policies.

Each module exposes pure ``*_error`` functions (tested without a server) and ``install()``.
"""

from __future__ import annotations


def install() -> None:
    """Patch moto's backends and responses with every rule of this package (once per process)."""
    from . import autoscaling, ecs, elbv2, logs, secrets

    for module in (ecs, secrets, logs, elbv2, autoscaling):
        module.install()
