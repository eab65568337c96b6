"""The ASGI application: one small router for the three protocols, lifespan, errors as JSON.

It is a thin ASGI app rather than a framework because every request of every protocol must get
the same treatment (bounded body, JSON error body, never a 500 for bad input) and the hot path
(infer) should cost little more than the model itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable

from . import kserve, oip, sagemaker
from .access import check_key
from .accesslog import REQUEST_ID_HEADER, AccessLog, request_id
from .config import RuntimeConfig
from .errors import InternalError, MethodNotAllowed, NotFound, RequestError
from .host import ModelHost
from .httpio import (ClientGone, Request, Response, check_head, error_response, header_map, read_body,
                     send_response)
from .metrics import UNMATCHED_ROUTE, metrics_page
from .prediction import Prediction

log = logging.getLogger(__name__)

Handler = Callable[[ModelHost, Request], Response]
Prepare = Callable[[ModelHost, Request], Prediction]
_PARAMETERS = {r"\{name\}": r"(?P<name>[^/:]+)", r"\{version\}": r"(?P<version>[^/:]+)"}
CLIENT_GONE = 499  # nginx's status for "the client closed the connection first": logged and counted only


@dataclass(frozen=True)
class Route:
    """A path template and its method; ``handler`` answers on the event loop, while a prediction
    route has ``checks`` (on the loop) and ``prepare`` (decode the body into a Prediction)."""

    method: str
    template: str
    pattern: re.Pattern
    handler: Handler | None = None
    prepare: Prepare | None = None
    checks: Callable[[ModelHost, Request], None] | None = None


def _compile(template: str) -> re.Pattern:
    pattern = re.escape(template)
    for placeholder, group in _PARAMETERS.items():
        pattern = pattern.replace(placeholder, group)
    return re.compile(pattern + r"\Z")


def _get(template: str, handler: Handler) -> Route:
    return Route("GET", template, _compile(template), handler=handler)


def _predict(template: str, prepare: Prepare, checks: Callable[[ModelHost, Request], None]) -> Route:
    return Route("POST", template, _compile(template), prepare=prepare, checks=checks)


# The prediction routes first: they are the hot path, and the order decides nothing else. The
# template is also the route's label in metrics and access logs (never the path as sent).
ROUTES = (
    _predict("/v2/models/{name}/infer", oip.prepare_infer, oip.infer_checks),
    _predict("/v2/models/{name}/versions/{version}/infer", oip.prepare_infer, oip.infer_checks),
    _predict("/v1/models/{name}:predict", kserve.prepare_predict, kserve.predict_checks),
    _predict("/invocations", sagemaker.prepare_invocations, sagemaker.invocations_checks),
    _get("/v2/health/live", oip.live),
    _get("/v2/health/ready", oip.ready),
    _get("/ping", sagemaker.ping),
    _get("/metrics", metrics_page),
    _get("/v2", oip.server_metadata),
    _get("/v2/models/{name}", oip.model_metadata),
    _get("/v2/models/{name}/versions/{version}", oip.model_metadata),
    _get("/v2/models/{name}/ready", oip.model_ready),
    _get("/v2/models/{name}/versions/{version}/ready", oip.model_ready),
    _get("/v1/models", kserve.model_list),
    _get("/v1/models/{name}", kserve.model_status),
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for ``method path`` and its path parameters; NotFound or MethodNotAllowed otherwise."""
    allowed = []
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.method == method or (method == "HEAD" and route.method == "GET"):
            return route, found.groupdict()
        allowed.append(route.method)
    if allowed:
        raise MethodNotAllowed(f"{method} is not allowed on {path}", headers={"allow": ", ".join(allowed)})
    raise NotFound(f"no route {path}")


@dataclass
class Exchange:
    """What the access log and the metrics learn about one request while it is answered."""

    route: str = UNMATCHED_ROUTE
    request: Request | None = None


class RuntimeApp:
    """The ASGI callable served by uvicorn: ``RuntimeApp(config)``."""

    def __init__(self, config: RuntimeConfig, host: ModelHost | None = None) -> None:
        self.config = config
        self.host = host or ModelHost(config)
        self.on_load_failure: Callable[[str], None] | None = None
        # several workers share one listening socket: a worker that accepts connections only once
        # its model is loaded never answers 503 while another worker is ready (see app_from_environment)
        self.load_before_serving = False
        self.access_log = AccessLog(config.model_name, config.model_version) if config.access_log else None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.host.start_loading(self.on_load_failure)
                if self.load_before_serving:
                    await asyncio.get_running_loop().run_in_executor(None, self.host.wait_loaded)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.host.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict, receive: Any, send: Any) -> None:
        self.host.start_loading(self.on_load_failure)  # no-op after lifespan did it
        started = time.perf_counter()
        metrics = self.host.metrics
        metrics.in_flight.inc()
        exchange = Exchange()
        rid = request_id(_supplied_request_id(scope["headers"]))
        try:
            status = await self._answer(scope, receive, send, exchange, rid)
        finally:
            metrics.in_flight.dec()
        seconds = time.perf_counter() - started
        metrics.observe_request(exchange.route, status, seconds)
        if self.access_log is not None:
            batch = exchange.request.batch_size if exchange.request is not None else None
            self.access_log.record(request_id=rid, method=scope["method"], route=exchange.route, status=status,
                                   seconds=seconds, batch_size=batch)

    async def _answer(self, scope: dict, receive: Any, send: Any, exchange: Exchange, rid: str) -> int:
        """Answer the request; returns the status sent."""
        method = scope["method"]
        try:
            response = await self._respond(scope, receive, exchange)
        except ClientGone:
            return CLIENT_GONE
        except RequestError as error:
            response = error_response(error)
        except Exception:
            # a bug of ours: log it, answer 500 with a body, keep serving
            log.exception("unexpected error answering %s %s", method, exchange.route)
            response = error_response(InternalError("internal server error"))
        response.headers[REQUEST_ID_HEADER] = rid
        await send_response(send, response, head_only=method == "HEAD")
        return response.status

    async def _respond(self, scope: dict, receive: Any, exchange: Exchange) -> Response:
        check_head(scope)
        route, params = match(scope["method"], scope["path"])
        exchange.route = route.template
        request = exchange.request = Request(scope["method"], scope["path"], params, header_map(scope["headers"]))
        check_key(self.config.api_key, route.template, request.headers)
        if route.prepare is None:
            assert route.handler is not None
            return route.handler(self.host, request)
        return await self._predict(route, request, receive)

    async def _predict(self, route: Route, request: Request, receive: Any) -> Response:
        """Read the body, check, decode, call the model (merged with others when batching), respond."""
        assert route.prepare is not None and route.checks is not None
        host, batcher = self.host, self.host.batcher
        if batcher is None:
            request.body = await read_body(receive, request.headers, self.config.max_body_bytes)
            route.checks(host, request)
            return await host.call(host.prepare_and_run, route.prepare, request)
        with batcher.arrival():
            request.body = await read_body(receive, request.headers, self.config.max_body_bytes)
            route.checks(host, request)
            prediction = route.prepare(host, request)
        return await batcher.submit(prediction, request)


def _supplied_request_id(raw: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in raw:
        if name == b"x-request-id":
            return value.decode("latin-1")
    return None


# uvicorn's supervisor stops (instead of restarting the worker forever) on this exit status
WORKER_STARTUP_FAILURE = 3


def app_from_environment() -> RuntimeApp:
    """Factory for uvicorn's multi-worker mode: each worker builds its app from the environment."""
    app = RuntimeApp(RuntimeConfig.from_env())
    app.on_load_failure = _exit_worker
    app.load_before_serving = True
    return app


def _exit_worker(reason: str) -> None:
    # a worker whose model cannot load must not stay up un-ready; the server's supervisor then stops
    os._exit(WORKER_STARTUP_FAILURE)
