"""Health gates: a revision is ready and answers a smoke request with the expected shape."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

import httpx

from ..errors import HealthGateFailed
from . import versions
from .versions import model_metadata

if TYPE_CHECKING:
    from ..provider import Health, Provider, Target
    from .executor import ExecutionContext


@dataclass(frozen=True)
class Smoke:
    """The smoke request of a deployment: the model's name, an OIP v2 infer body (optional)
    and the expected shape of the first output (``-1`` matches any size)."""

    model: str
    body: Mapping[str, Any] | None = None
    expected_shape: tuple[int, ...] | None = None


def infer(endpoint: str, model: str, body: Mapping[str, Any], headers: Mapping[str, str] | None = None,
          timeout: float = 30.0, client: httpx.Client | None = None) -> dict[str, Any]:
    """POST an OIP v2 infer request (on ``client``'s pooled connections when given); return the
    JSON reply or raise HealthGateFailed."""
    url = f"{endpoint.rstrip('/')}/v2/models/{model}/infer"
    try:
        reply = (client or httpx).post(url, content=json.dumps(body), headers={"content-type": "application/json", **(headers or {})},
                           timeout=timeout)
    except httpx.HTTPError as exc:
        raise HealthGateFailed(f"smoke request to {url} failed: {type(exc).__name__}: {exc}") from None
    if reply.status_code != 200:
        raise HealthGateFailed(f"smoke request to {url} answered {reply.status_code}: {reply.text[:200]}",
                               check="smoke_status", expected=200, actual=reply.status_code)
    try:
        return reply.json()
    except ValueError:
        raise HealthGateFailed(f"smoke request to {url} did not answer JSON") from None


def check_shape(reply: Mapping[str, Any], expected: tuple[int, ...] | None, where: str) -> None:
    """Raise unless the first output's shape matches ``expected``."""
    outputs = reply.get("outputs") or []
    if not outputs:
        raise HealthGateFailed(f"{where}: the reply has no outputs")
    if expected is None:
        return
    shape = tuple(outputs[0].get("shape") or ())
    if len(shape) != len(expected) or any(e not in (-1, s) for e, s in zip(expected, shape)):
        raise HealthGateFailed(f"{where}: output shape {list(shape)} is not the expected {list(expected)}",
                               check="output_shape", expected=list(expected), actual=list(shape))


def smoke(endpoint: str, smoke: Smoke, headers: Mapping[str, str] | None = None, where: str = "") -> dict | None:
    """One smoke request (or a readiness GET when there is no sample input)."""
    if smoke.body is None:
        url = f"{endpoint.rstrip('/')}/v2/models/{smoke.model}/ready"
        try:
            status = httpx.get(url, headers=dict(headers or {}), timeout=10).status_code
        except httpx.HTTPError as exc:
            raise HealthGateFailed(f"{where}: {url} failed: {type(exc).__name__}") from None
        if status != 200:
            raise HealthGateFailed(f"{where}: {url} answered {status}", check="ready_route", expected=200,
                                   actual=status)
        return None
    reply = infer(endpoint, smoke.model, smoke.body, headers)
    check_shape(reply, smoke.expected_shape, where)
    return reply


def wait_until(probe: Callable[[], Any], timeout: float, what: str, interval: float = 0.5):
    """Call ``probe`` until it returns a Health that is ready (or failed), or time runs out."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = probe()
        if last.ready:
            return last
        if last.failed:
            raise HealthGateFailed(f"{what} failed: {last.message}", check="ready", actual=last.message)
        if time.monotonic() >= deadline:
            raise HealthGateFailed(f"{what} was not ready after {timeout:.0f}s: {last.message}",
                                   hint="raise --gate-timeout if the model needs longer to load",
                                   check="ready", expected=f"ready within {timeout:.0f}s", actual=last.message)
        time.sleep(interval)


def health_probe(ctx: ExecutionContext, provider: Provider, target: Target, deployment: str,
                 revision: str) -> Callable[[], Health]:
    """A probe for :func:`wait_until` whose cloud call is retried like every other (``ctx.call``)."""
    return lambda: ctx.call("health", f"read the health of {revision} on {target.name}",
                            lambda: provider.health(target, deployment, revision))


def wait_endpoint(ctx: ExecutionContext, provider: Provider, target: Target, deployment: str) -> str:
    """The deployment's endpoint on ``target``, read until the cloud reports one (at most the gate
    timeout): it appears once traffic reaches a revision, which some clouds report a little later."""
    deadline = time.monotonic() + ctx.gate_timeout
    while True:
        endpoint = ctx.observe(provider, target, deployment).endpoint
        if endpoint:
            return endpoint
        if time.monotonic() > deadline:
            raise HealthGateFailed(f"{deployment} on {target.name} reports no endpoint")
        time.sleep(0.5)


def check_endpoint(ctx: ExecutionContext, provider: Provider, target: Target, deployment: str,
                   weights: Mapping[str, int]) -> None:
    """The deployment's endpoint answers the smoke request and, when ``weights`` (the traffic
    split just asked for) are given, with the model versions of those revisions in proportion,
    waited for up to the gate timeout (:func:`~modelport.engine.versions.wait_for_split`)."""
    endpoint = wait_endpoint(ctx, provider, target, deployment)
    headers = provider.endpoint_headers(target, deployment)
    where = f"{target.name} endpoint {endpoint}"
    smoke(endpoint, ctx.smoke, headers, where=where)
    if weights:
        shares = versions.expected_shares(weights, versions_of(ctx, deployment, target, weights))
        with httpx.Client() as client:  # one pool for the rounds: a client per request costs more than the request
            versions.wait_for_split(version_probe(endpoint, ctx.smoke, headers, where, client), shares,
                                    ctx.gate_timeout, where)


def versions_of(ctx: ExecutionContext, deployment: str, target: Target, weights: Mapping[str, int]) -> dict[str, str]:
    """The model version of each revision in ``weights``: as recorded when modelport created it,
    else as the cloud reports it (``Revision.extra["model_version"]``); unknown ones are left out."""
    known = {r["revision"]: r["model_version"] for r in ctx.state.revisions(deployment, target.name)}
    if any(not known.get(r) for r in weights):
        provider, _ = ctx.binding(target.name)
        for rev in ctx.observe(provider, target, deployment).revisions:
            if not known.get(rev.name) and (rev.extra or {}).get("model_version"):
                known[rev.name] = str(rev.extra["model_version"])
    return {r: str(known[r]) for r in weights if known.get(r)}


def version_probe(endpoint: str, smoke: Smoke, headers: Mapping[str, str] | None, where: str,
                  client: httpx.Client) -> Callable[[], dict[str, Any]]:
    """One request telling which model version answers at ``endpoint``: the smoke request (its
    reply names ``model_version``), or the model metadata when there is no sample input. Clouds
    route each request on its own (ALB weighted forward, Cloud Run), so ``client`` may keep
    connections open between requests."""
    if smoke.body is None:
        return lambda: model_metadata(endpoint, smoke.model, headers, client=client)
    return lambda: _checked(infer(endpoint, smoke.model, smoke.body, headers, client=client), smoke, where)


def _checked(reply: dict[str, Any], smoke: Smoke, where: str) -> dict[str, Any]:
    check_shape(reply, smoke.expected_shape, where)
    return reply


def same_outputs(a: Any, b: Any, tol: float = 1e-6) -> bool:
    """Whether two outputs agree: the same structure, numbers within a relative ``tol``."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_outputs(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        try:
            return abs(float(a) - float(b)) <= tol * max(1.0, abs(float(a)))
        except (TypeError, ValueError):
            return False
    return a == b
