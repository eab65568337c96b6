"""Elastic Load Balancing v2: creates are idempotent for the same settings.

Sources (ELBv2 API reference, each operation's description):

* CreateLoadBalancer https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
  "This operation is idempotent, which means that it completes at most one time. If you attempt
  to create multiple load balancers with the same settings, each call succeeds." Another
  load balancer with the name: ``DuplicateLoadBalancerName``.
* CreateTargetGroup (API_CreateTargetGroup.html): the same sentence for target groups;
  ``DuplicateTargetGroupName`` otherwise.
* CreateListener (API_CreateListener.html): the same sentence for listeners; ``DuplicateListener``
  for another listener on the port.

moto refuses a repeated CreateTargetGroup even with the same settings (a retry after a lost
reply then fails where AWS answers), and creates a SECOND load balancer with the same name and a
second listener on the same port. Here a repeat with the same settings answers the existing resource, and one with
other settings gets the duplicate error. "Settings" are the request's parameters except tags
(the pages do not say whether tags count; leaving them out only accepts a repeat whose tags were
already applied by the first call).
"""

from __future__ import annotations

import copy
import json
from typing import Any


def fingerprint(values: dict[str, Any]) -> str:
    """A comparable form of a create request's settings."""
    return json.dumps(values, sort_keys=True, default=str)


def repeat_decision(existing: str | None, requested: str) -> str:
    """``"create"`` (nothing by that name), ``"existing"`` (same settings: answer it) or
    ``"duplicate"`` (other settings: the Duplicate* error)."""
    if existing is None:
        return "create"
    return "existing" if existing == requested else "duplicate"


def _lb_settings(security_groups, subnet_ids, subnet_mappings, scheme, loadbalancer_type,
                 ip_address_type) -> str:
    return fingerprint({"SecurityGroups": sorted(security_groups or []),
                        "Subnets": sorted(subnet_ids or []), "SubnetMappings": subnet_mappings or [],
                        "Scheme": scheme or "internet-facing", "Type": loadbalancer_type or "application",
                        "IpAddressType": ip_address_type or "ipv4"})


def _actions(actions) -> list:
    from moto.elbv2.models import FakeAction

    return [FakeAction(copy.deepcopy(a.data if hasattr(a, "data") else a)).data for a in actions or []]


def _patch_load_balancers(Backend, DuplicateLoadBalancerName) -> None:
    original = Backend.create_load_balancer

    def create_load_balancer(self, name, security_groups, subnet_ids, subnet_mappings=None,
                             scheme="internet-facing", loadbalancer_type=None, ip_address_type="ipv4",
                             tags=None):
        wanted = _lb_settings(security_groups, subnet_ids, subnet_mappings, scheme, loadbalancer_type,
                              ip_address_type)
        existing = next((lb for lb in self.load_balancers.values() if lb.name == name), None)
        decision = repeat_decision(getattr(existing, "_mf_settings", None) if existing else None, wanted)
        if existing is not None and decision == "existing":
            return existing
        if existing is not None:
            raise DuplicateLoadBalancerName()
        lb = original(self, name, security_groups, subnet_ids, subnet_mappings, scheme, loadbalancer_type,
                      ip_address_type, tags)
        lb._mf_settings = wanted
        return lb

    Backend.create_load_balancer = create_load_balancer


def _patch_target_groups(Backend) -> None:
    original = Backend.create_target_group

    def create_target_group(self, name, **kwargs):
        wanted = fingerprint({k: v for k, v in kwargs.items() if k != "tags"})
        existing = next((tg for tg in self.target_groups.values() if tg.name == name), None)
        if existing is not None and repeat_decision(getattr(existing, "_mf_settings", None), wanted) == "existing":
            return existing
        group = original(self, name, **kwargs)  # DuplicateTargetGroupName for other settings
        group._mf_settings = wanted
        return group

    Backend.create_target_group = create_target_group


def _patch_listeners(Backend, DuplicateListenerError) -> None:
    original = Backend.create_listener

    def create_listener(self, load_balancer_arn, protocol, port, ssl_policy, certificate, actions,
                        alpn_policy=None, tags=None):
        balancer = self.load_balancers.get(load_balancer_arn)
        # moto keys listeners by ARN, so its own port check never fires: look by port here.
        existing = next((item for item in (balancer.listeners.values() if balancer else [])
                         if str(item.port) == str(port)), None)
        if existing is not None:
            current = fingerprint([existing.protocol, existing.certificate, _actions(existing.default_actions)])
            asked = fingerprint([(protocol or "").upper(), certificate, _actions(actions)])
            if repeat_decision(current, asked) == "existing":
                return existing
            raise DuplicateListenerError()
        return original(self, load_balancer_arn, protocol, port, ssl_policy, certificate, actions,
                        alpn_policy, tags)

    Backend.create_listener = create_listener


def install() -> None:
    """Patch moto's ELBv2 backend."""
    from moto.elbv2.exceptions import DuplicateListenerError, DuplicateLoadBalancerName
    from moto.elbv2.models import ELBv2Backend

    _patch_load_balancers(ELBv2Backend, DuplicateLoadBalancerName)
    _patch_target_groups(ELBv2Backend)
    _patch_listeners(ELBv2Backend, DuplicateListenerError)
