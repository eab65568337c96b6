"""The environments' ingress: one front end per managed environment on its static IP.

Like the platform's Envoy ingress it routes by host name: ``<app>.<domain>`` (or
``<app>.internal.<domain>``) splits requests over the app's revisions by traffic weight, one
weighted random choice per request; ``<app>---<label>.<domain>`` always reaches the labelled
revision (revisions page, "Labels": a label gives its revision its own URL). Port 443 serves HTTPS
with the environment's certificate; port 80 redirects to HTTPS unless the app sets
``allowInsecure`` (spec Ingress.allowInsecure: "If set to false HTTP connections are automatically
redirected to HTTPS connections").
"""
from __future__ import annotations

import asyncio
import random
import socket
import threading

import httpx
import uvicorn
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, StreamingResponse

_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
        "transfer-encoding", "upgrade", "host", "content-length"}


class Routes:
    """host name -> [(replica base url, weight)] and whether plain HTTP is served."""

    def __init__(self) -> None:
        self.table: dict[str, list[tuple[str, int]]] = {}
        self.insecure: set[str] = set()
        self.lock = threading.Lock()

    def replace(self, owner: str, table: dict[str, list[tuple[str, int]]], insecure: bool) -> None:
        """Set the host names of one app (``owner`` = its fqdn; labels are ``<app>---...``)."""
        prefix = owner.split(".", 1)[0]
        with self.lock:
            for host in [h for h in self.table if h == owner or h.startswith(prefix + "---")]:
                self.table.pop(host)
                self.insecure.discard(host)
            self.table.update(table)
            if insecure:
                self.insecure.update(table)

    def pick(self, host: str) -> str | None:
        """One replica for a request to ``host`` (None: nothing serves it)."""
        with self.lock:
            choices = [(u, w) for u, w in self.table.get(host, []) if w > 0]
        if not choices:
            return None
        return random.choices([u for u, _ in choices], weights=[w for _, w in choices])[0]


class FrontEnd:
    """The ASGI app on one port (``https`` says which)."""

    def __init__(self, routes: Routes, https: bool) -> None:
        self.routes, self.https = routes, https
        self.client = httpx.AsyncClient(timeout=240)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        host = request.headers.get("host", "").split(":", 1)[0].lower()
        if not self.https and host in self.routes.table and host not in self.routes.insecure:
            url = f"https://{host}{request.url.path}" + (f"?{request.url.query}" if request.url.query else "")
            await RedirectResponse(url, status_code=301)(scope, receive, send)
            return
        target = self.routes.pick(host)
        if target is None:
            # the ingress answers 404 for a host no active revision serves
            await JSONResponse({"error": f"no app serves '{host}'"}, 404)(scope, receive, send)
            return
        await (await self._forward(request, target))(scope, receive, send)

    async def _forward(self, request: Request, target: str):
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP]
        url = target + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        outgoing = self.client.build_request(request.method, url, headers=headers,
                                             content=await request.body())
        try:
            upstream = await self.client.send(outgoing, stream=True)
        except httpx.HTTPError as exc:
            return JSONResponse({"error": f"upstream failed: {type(exc).__name__}"}, status_code=502)
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP}
        return StreamingResponse(upstream.aiter_raw(), status_code=upstream.status_code,
                                 headers=out, background=BackgroundTask(upstream.aclose))


class IngressHost:
    """Serves environments' front ends on one asyncio loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="aca-ingress", daemon=True)
        self.thread.start()
        self.servers: list[tuple[uvicorn.Server, object]] = []

    def serve(self, app, ip: str, port: int, cert: tuple | None = None) -> None:
        """Serve ``app`` on ip:port (TLS with ``cert`` = (cert_pem, key_pem))."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        tls = {"ssl_certfile": str(cert[0]), "ssl_keyfile": str(cert[1])} if cert else {}
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off",
                                               access_log=False, timeout_graceful_shutdown=2, **tls))
        future = asyncio.run_coroutine_threadsafe(server.serve(sockets=[sock]), self.loop)
        for _ in range(250):
            if server.started or future.done():
                break
            threading.Event().wait(0.02)
        if future.done():
            future.result()
        self.servers.append((server, future))

    def close(self) -> None:
        """Stop every front end and the loop."""
        for server, future in self.servers:
            server.should_exit = True
            try:
                future.result(timeout=5)
            except Exception:  # noqa: BLE001 - stopping regardless
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
