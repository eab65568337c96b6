"""A small recording HTTP(S) reverse proxy put between a provider and its emulator.

Same shape as ``moto_fixtures.proxy.InterceptingProxy`` (used when that module exists):
``RecordingProxy(upstream, tls=(cert, key) | None, upstream_ca=None)``, ``.start() -> url``,
``.stop()``, ``.requests`` (a list of :class:`Captured`). Every request is forwarded unchanged
(method, path, headers, body); absolute URLs of the upstream in reply headers (Azure's
``Azure-AsyncOperation``, ``Location``) are rewritten to the proxy so polling stays recorded.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer",
       "content-length", "host", "content-encoding"}


@dataclass(frozen=True)
class Captured:
    """One request as the client sent it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class RecordingProxy:
    """Forward everything to ``upstream`` and remember each request."""

    def __init__(self, upstream: str, tls: tuple[str, str] | None = None, upstream_ca: str | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.tls, self.upstream_ca = tls, upstream_ca
        self.requests: list[Captured] = []
        #: (method, path substring, status, reply(body) -> bytes): answer matching requests with
        #: an error instead of forwarding them (e.g. a cloud error that quotes the request)
        self.faults: list[tuple[str, str, int, object]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> str:
        """Listen on a free 127.0.0.1 port; returns the proxy's base URL."""
        client = httpx.Client(verify=self.upstream_ca or True, timeout=120)
        handler = _handler(self, client)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        scheme = "http"
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop listening (safe to call twice)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _handler(proxy: RecordingProxy, client: httpx.Client):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items()}
            proxy.requests.append(Captured(self.command, self.path, headers, body))
            route = self.path + " " + headers.get("X-Amz-Target", "")
            fault = next((f for f in proxy.faults if f[0] == self.command and f[1] in route), None)
            if fault is not None:
                data = fault[3](body)
                self.send_response(fault[2])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            out = {k: v for k, v in headers.items() if k.lower() not in HOP}
            try:
                reply = client.request(self.command, proxy.upstream + self.path, headers=out, content=body)
            except httpx.HTTPError as exc:
                self.send_error(502, f"upstream: {type(exc).__name__}")
                return
            data = reply.content
            self.send_response(reply.status_code)
            for key, value in reply.headers.multi_items():
                if key.lower() in HOP:
                    continue
                self.send_header(key, value.replace(proxy.upstream, proxy.url))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

    return Handler


class Interception:
    """The shared ``moto_fixtures.proxy.InterceptingProxy`` (what the provider talks to; its
    ``requests`` are the ones scanned) in front of this module's proxy, which forwards to the
    emulator and can answer with ``faults`` of its own (a cloud error quoting the request)."""

    def __init__(self, upstream: str, tls: tuple[str, str] | None = None, upstream_ca: str | None = None,
                 flavour: str = "generic") -> None:
        from moto_fixtures.proxy import InterceptingProxy

        self.inner = RecordingProxy(upstream, upstream_ca=upstream_ca)
        self.outer = InterceptingProxy(self.inner.start(), tls=tls, flavour=flavour)
        self.url = self.outer.start()

    @property
    def requests(self) -> list:
        """Every request the provider sent (recorded by the shared proxy)."""
        return self.outer.requests

    @property
    def faults(self) -> list:
        """Armed replies: (method, path substring, status, reply(body) -> bytes)."""
        return self.inner.faults

    def stop(self) -> None:
        """Stop both proxies."""
        self.outer.stop()
        self.inner.stop()
