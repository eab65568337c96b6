"""The API key check: with ``MODELPORT_API_KEY`` set, every inference, metadata and metrics route
needs the key; the health routes the platforms' probes call stay open.

The key is accepted as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` (the second is for
callers whose ``Authorization`` header already carries a platform's identity token). No key: 401 with ``WWW-Authenticate: Bearer`` (RFC 6750 section 3); a wrong key:
403. The comparison takes the same time however much of the key matches (``hmac.compare_digest``),
so the answer's timing tells nothing about the key.
"""

from __future__ import annotations

import hmac

from .errors import Forbidden, Unauthorized

#: routes the platforms' health probes call without credentials (load balancer and container
#: health checks, startup/readiness/liveness probes, the SageMaker contract's /ping)
OPEN_ROUTES = frozenset({"/v2/health/live", "/v2/health/ready", "/ping"})
_CHALLENGE = {"www-authenticate": 'Bearer realm="modelport"'}


def presented_key(headers: dict[str, str]) -> str | None:
    """The key a request presents: ``X-API-Key``, else an ``Authorization`` bearer token."""
    if "x-api-key" in headers:
        return headers["x-api-key"].strip()
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def check_key(expected: str | None, route: str, headers: dict[str, str]) -> None:
    """Raise Unauthorized (no key) or Forbidden (a wrong key) unless ``route`` is open or no key
    is configured. ``headers`` have lower-case names."""
    if not expected or route in OPEN_ROUTES:
        return
    presented = presented_key(headers)
    if presented is None:
        raise Unauthorized("this endpoint needs an API key: send 'Authorization: Bearer <key>' or "
                           "'X-API-Key: <key>'", headers=dict(_CHALLENGE))
    if not hmac.compare_digest(presented.encode("utf-8", "surrogateescape"), expected.encode("utf-8")):
        raise Forbidden("the API key is not valid for this endpoint",
                        headers={"www-authenticate": 'Bearer realm="modelport", error="invalid_token"'})
