"""ALB listener rules, evaluated as the load balancer does (pure functions over ``describe_rules``).

Rules are tried by ascending priority, the default rule last; a rule matches when every
condition matches. Header, host and query values compare case-insensitively with ``*``/``?``
wildcards, paths case-sensitively; ``http-request-method`` is exact. An unknown condition never
matches.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from fnmatch import fnmatchcase


@dataclass(frozen=True)
class RequestFacts:
    """What conditions look at in one request."""

    method: str
    path: str
    host: str
    headers: dict[str, list[str]] = field(default_factory=dict)  # lower-case names
    query: list[tuple[str, str]] = field(default_factory=list)
    source_ip: str = ""


def _values(condition: dict, config_key: str) -> list:
    return (condition.get(config_key) or {}).get("Values") or condition.get("Values") or []


def _like(value: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(value.lower(), p.lower()) for p in patterns)


def _header(condition: dict, req: RequestFacts) -> bool:
    config = condition.get("HttpHeaderConfig") or {}
    name = (config.get("HttpHeaderName") or "").lower()
    return any(_like(v, config.get("Values") or []) for v in req.headers.get(name, []))


def _query(condition: dict, req: RequestFacts) -> bool:
    wanted = (condition.get("QueryStringConfig") or {}).get("Values") or []
    return any(_like(value, [pair.get("Value", "*")])
               and (pair.get("Key") is None or _like(key, [pair["Key"]]))
               for pair in wanted for key, value in req.query)


def _source(condition: dict, req: RequestFacts) -> bool:
    try:
        address = ipaddress.ip_address(req.source_ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(c, strict=False)
               for c in _values(condition, "SourceIpConfig"))


def condition_matches(condition: dict, req: RequestFacts) -> bool:
    """True when one rule condition holds for the request."""
    kind = condition.get("Field")
    if kind == "path-pattern":
        return any(fnmatchcase(req.path, p) for p in _values(condition, "PathPatternConfig"))
    if kind == "host-header":
        return _like(req.host.split(":")[0], _values(condition, "HostHeaderConfig"))
    if kind == "http-request-method":
        return req.method in _values(condition, "HttpRequestMethodConfig")
    if kind == "http-header":
        return _header(condition, req)
    if kind == "query-string":
        return _query(condition, req)
    if kind == "source-ip":
        return _source(condition, req)
    return False


def _order(rule: dict) -> tuple[int, int]:
    if rule.get("IsDefault") or rule.get("Priority") == "default":
        return (1, 0)
    return (0, int(rule.get("Priority", 0)))


def chosen_action(rules: list[dict], req: RequestFacts) -> dict:
    """The terminal action (forward, fixed-response, redirect) of the first matching rule."""
    for rule in sorted(rules, key=_order):
        if all(condition_matches(c, req) for c in rule.get("Conditions", [])):
            actions = sorted(rule.get("Actions", []), key=lambda a: a.get("Order", 0))
            return actions[-1] if actions else {}
    return {}


def forward_weights(action: dict) -> list[tuple[str, int]] | None:
    """``[(target group arn, weight), ...]`` of a forward action; None for any other action."""
    if action.get("Type") != "forward":
        return None
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
    if groups:
        return [(g["TargetGroupArn"], 1 if g.get("Weight") is None else int(g["Weight"]))
                for g in groups]
    return [(action["TargetGroupArn"], 1)]
