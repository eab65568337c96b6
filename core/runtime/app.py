"""The ASGI application: one small router for the three protocols, lifespan, errors as JSON.

It is a thin ASGI app rather than a framework because every request of every protocol must get
the same treatment (bounded body, JSON error body, never a 500 for bad input) and the hot path
(infer) should cost little more than the model itself.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Callable

from . import kserve, oip, sagemaker
from .config import RuntimeConfig
from .errors import InternalError, MethodNotAllowed, NotFound, RequestError
from .host import ModelHost
from .httpio import (ClientGone, Request, Response, check_head, error_response, header_map, read_body,
                     send_response)

log = logging.getLogger(__name__)

Handler = Callable[[ModelHost, Request], Response]
_NAME = r"(?P<name>[^/:]+)"
_VERSION = r"(?P<version>[^/:]+)"


@dataclass(frozen=True)
class Route:
    """A path pattern, its method, its handler; ``checks`` run on the loop, ``handler`` on a thread."""

    method: str
    pattern: re.Pattern
    handler: Handler
    checks: Callable[[ModelHost, Request], None] | None = None


def _route(method: str, path: str, handler: Handler, checks: Any = None) -> Route:
    return Route(method, re.compile(path + r"\Z"), handler, checks)


# The prediction routes first: they are the hot path, and the order decides nothing else.
ROUTES = (
    _route("POST", rf"/v2/models/{_NAME}(?:/versions/{_VERSION})?/infer", oip.infer, oip.infer_checks),
    _route("POST", rf"/v1/models/{_NAME}:predict", kserve.predict, kserve.predict_checks),
    _route("POST", r"/invocations", sagemaker.invocations, sagemaker.invocations_checks),
    _route("GET", r"/v2/health/live", oip.live),
    _route("GET", r"/v2/health/ready", oip.ready),
    _route("GET", r"/ping", sagemaker.ping),
    _route("GET", r"/v2", oip.server_metadata),
    _route("GET", rf"/v2/models/{_NAME}(?:/versions/{_VERSION})?", oip.model_metadata),
    _route("GET", rf"/v2/models/{_NAME}(?:/versions/{_VERSION})?/ready", oip.model_ready),
    _route("GET", r"/v1/models", kserve.model_list),
    _route("GET", rf"/v1/models/{_NAME}", kserve.model_status),
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for ``method path`` and its path parameters; NotFound or MethodNotAllowed otherwise."""
    allowed = []
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.method == method or (method == "HEAD" and route.method == "GET"):
            params = {k: v for k, v in found.groupdict().items() if v is not None}
            return route, params
        allowed.append(route.method)
    if allowed:
        raise MethodNotAllowed(f"{method} is not allowed on {path}", headers={"allow": ", ".join(allowed)})
    raise NotFound(f"no route {path}")


class RuntimeApp:
    """The ASGI callable served by uvicorn: ``RuntimeApp(config)``."""

    def __init__(self, config: RuntimeConfig, host: ModelHost | None = None) -> None:
        self.config = config
        self.host = host or ModelHost(config)
        self.on_load_failure: Callable[[str], None] | None = None

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
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.host.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict, receive: Any, send: Any) -> None:
        self.host.start_loading(self.on_load_failure)  # no-op after lifespan did it
        method = scope["method"]
        try:
            response = await self._respond(scope, receive)
        except ClientGone:
            return
        except RequestError as error:
            response = error_response(error)
        except Exception:
            # a bug of ours: log it, answer 500 with a body, keep serving
            log.exception("unexpected error answering %s %s", method, scope.get("path"))
            response = error_response(InternalError("internal server error"))
        await send_response(send, response, head_only=method == "HEAD")

    async def _respond(self, scope: dict, receive: Any) -> Response:
        check_head(scope)
        route, params = match(scope["method"], scope["path"])
        headers = header_map(scope["headers"])
        request = Request(scope["method"], scope["path"], params, headers)
        if route.method == "POST":
            request.body = await read_body(receive, headers, self.config.max_body_bytes)
        if route.checks is None:
            return route.handler(self.host, request)
        route.checks(self.host, request)
        return await self.host.call(route.handler, self.host, request)


# uvicorn's supervisor stops (instead of restarting the worker forever) on this exit status
WORKER_STARTUP_FAILURE = 3


def app_from_environment() -> RuntimeApp:
    """Factory for uvicorn's multi-worker mode: each worker builds its app from the environment."""
    app = RuntimeApp(RuntimeConfig.from_env())
    app.on_load_failure = _exit_worker
    return app


def _exit_worker(reason: str) -> None:
    # a worker whose model cannot load must not stay up un-ready; the server's supervisor then stops
    os._exit(WORKER_STARTUP_FAILURE)
