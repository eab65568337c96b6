"""Which model version answers at an endpoint, and whether that matches the traffic split asked for.

A traffic move is only done once the endpoint really answers with the versions the new weights
name: a cloud that has not propagated the change yet (or a provider whose ``set_traffic`` did
nothing) keeps answering with the old version while reporting success. The endpoint gate sends
a round of smoke requests, reads the OIP ``model_version`` of each reply
(:func:`answered_version`), and compares the counts with the expected shares
(:func:`split_problem`); it repeats rounds until they match or the gate timeout passes.

Tolerance (documented in ``docs/plugins.md``): a round sends enough requests that the smallest
expected share gets about :data:`MIN_EXPECTED` answers (between :data:`MIN_REQUESTS` and
:data:`MAX_REQUESTS`); every version with a share must answer at least once, no other version
may answer at all, and each version's observed share must be within
``max(ABS_TOLERANCE, 3 standard deviations of a binomial share)`` of the expected one. Random
per-request routing (ALB weighted forward, Cloud Run's traffic split) passes a round with
probability above 95 % per version; a missed round is simply repeated until the timeout.

Analysis and validation gates build on these functions: keep "which version answered" here.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any, Callable, Mapping

import httpx

from ..errors import HealthGateFailed

MIN_EXPECTED = 3      # answers the smallest share should get per round
MIN_REQUESTS = 10
MAX_REQUESTS = 100
ABS_TOLERANCE = 0.10  # at least +-10 percentage points around each expected share
UNKNOWN = "?"         # the bucket of revisions whose model version modelport never recorded


def answered_version(reply: Mapping[str, Any]) -> str | None:
    """The model version an OIP v2 reply names: ``model_version`` of an infer reply, or the only
    entry of ``versions`` in a model metadata reply (``GET /v2/models/{name}``); None if neither."""
    version = reply.get("model_version")
    if version:
        return str(version)
    versions = reply.get("versions")
    if isinstance(versions, list) and len(versions) == 1:
        return str(versions[0])
    return None


def model_metadata(endpoint: str, model: str, headers: Mapping[str, str] | None = None,
                   timeout: float = 10.0, client: httpx.Client | None = None) -> dict[str, Any]:
    """``GET /v2/models/{model}`` (the OIP model metadata, which lists the served version)."""
    url = f"{endpoint.rstrip('/')}/v2/models/{model}"
    try:
        reply = (client or httpx).get(url, headers=dict(headers or {}), timeout=timeout)
    except httpx.HTTPError as exc:
        raise HealthGateFailed(f"{url} failed: {type(exc).__name__}: {exc}") from None
    if reply.status_code != 200:
        raise HealthGateFailed(f"{url} answered {reply.status_code}: {reply.text[:200]}")
    try:
        return reply.json()
    except ValueError:
        raise HealthGateFailed(f"{url} did not answer JSON") from None


def expected_shares(weights: Mapping[str, int], version_of: Mapping[str, str | None]) -> dict[str, float]:
    """The share (0..1) of requests each model version should answer, from traffic ``weights``
    (revision -> percent) and each revision's model version (unknown ones pool in :data:`UNKNOWN`)."""
    shares: dict[str, float] = {}
    total = sum(w for w in weights.values() if w > 0) or 1
    for revision, weight in weights.items():
        if weight > 0:
            version = version_of.get(revision) or UNKNOWN
            shares[version] = shares.get(version, 0.0) + weight / total
    return shares


def requests_for(shares: Mapping[str, float]) -> int:
    """How many requests one round sends so that the smallest share gets about MIN_EXPECTED answers."""
    smallest = min(shares.values(), default=1.0)
    return max(MIN_REQUESTS, min(MAX_REQUESTS, math.ceil(MIN_EXPECTED / max(smallest, 1e-9))))


def tolerance(share: float, sent: int) -> float:
    """How far an observed share may be from ``share`` after ``sent`` requests (see module doc)."""
    return max(ABS_TOLERANCE, 3 * math.sqrt(share * (1 - share) / max(sent, 1)))


def split_problem(counts: Mapping[str, int], shares: Mapping[str, float]) -> str | None:
    """Why the answers ``counts`` (version -> replies) do not match ``shares``; None when they do."""
    sent = sum(counts.values())
    counts = dict(counts)
    if UNKNOWN in shares:  # versions nobody expects by name count as the unknown revisions'
        for version in [v for v in counts if v not in shares]:
            counts[UNKNOWN] = counts.get(UNKNOWN, 0) + counts.pop(version)
    stray = {v: n for v, n in counts.items() if v not in shares}
    if stray:
        return (f"{_versions(stray, sent)}, which the traffic split gives no traffic "
                f"(expected {_expected(shares)})")
    for version, share in shares.items():
        got = counts.get(version, 0)
        if got == 0 or abs(got / sent - share) > tolerance(share, sent):
            return f"{_versions(counts, sent)} (expected {_expected(shares)})"
    return None


def sample(ask: Callable[[], Mapping[str, Any]], sent: int, where: str) -> Counter[str]:
    """Send ``sent`` requests through ``ask`` (each returns an OIP reply) and count the answering
    versions; a reply that names none fails the gate (the runtime must report ``model_version``)."""
    counts: Counter[str] = Counter()
    for _ in range(sent):
        version = answered_version(ask())
        if version is None:
            raise HealthGateFailed(f"{where}: the reply names no model_version, so which version answered "
                                   "cannot be told", hint="serve the OIP v2 protocol (modelport's runtime does)")
        counts[version] += 1
    return counts


def wait_for_split(ask: Callable[[], Mapping[str, Any]], shares: Mapping[str, float], timeout: float,
                   where: str, interval: float = 0.5) -> Counter[str]:
    """Rounds of :func:`sample` until the answers match ``shares`` (traffic changes take a while to
    propagate on real clouds); raise HealthGateFailed naming the answering versions at ``timeout``."""
    deadline = time.monotonic() + timeout
    sent = requests_for(shares)
    while True:
        counts = sample(ask, sent, where)
        problem = split_problem(counts, shares)
        if problem is None:
            return counts
        if time.monotonic() >= deadline:
            raise HealthGateFailed(f"{where}: {problem}; still so after {timeout:.0f}s",
                                   hint="the traffic change did not reach the endpoint: check the provider's "
                                        "set_traffic, or raise --gate-timeout if the cloud propagates slowly")
        time.sleep(interval)


def _versions(counts: Mapping[str, int], sent: int) -> str:
    parts = [f"version {v} answered {n} of {sent} requests" for v, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    return "; ".join(parts) or "no version answered"


def _expected(shares: Mapping[str, float]) -> str:
    return ", ".join(f"version {v} {round(s * 100)}%" for v, s in shares.items())
