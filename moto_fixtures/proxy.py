"""An intercepting reverse proxy between a provider and its emulator: records every request and
makes chosen ones fail once, the way the real clouds fail.

A test points the provider at the proxy only through settings a real user has (aws
``endpoint_url`` + ``ca_bundle``, gcp ``api_endpoint``, azure ``base_url`` + ``ca_bundle``)::

    proxy = InterceptingProxy(emulator_url, flavour="gcp")
    url = proxy.start()              # give this to the provider instead of emulator_url
    proxy.fail(3, "throttle")        # the 4th request of the log is answered 429 RESOURCE_EXHAUSTED
    ...
    proxy.calls()                    # ["GET /v2/projects/*/locations/*/services/*", ...]
    proxy.stop()

Faults (each hits one request, once; except ``lost_reply``, the request never reaches the
emulator):

* ``throttle`` -- the cloud's throttling answer (AWS 400 ``ThrottlingException``/``Throttling``,
  EC2 503 ``RequestLimitExceeded``; GCP 429 ``RESOURCE_EXHAUSTED``; Azure 429 ``TooManyRequests``
  with ``Retry-After``), in the shape each SDK parses;
* ``5xx`` -- 503 ``ServiceUnavailable`` / ``UNAVAILABLE`` in the same shapes;
* ``timeout`` -- the request is held ``hold_s`` seconds (default 3) and the connection is then
  dropped without an answer. No provider setting shortens the SDKs' read timeouts (botocore 60 s,
  requests-based Google/Azure clients wait longer), so the proxy gives up first: the client
  sees a request that hung and then died, which it handles like a timed-out read;
* ``reset`` -- the request is read, then the socket is closed with a TCP RST, no answer.

One more fault lets the request through:

* ``lost_reply`` -- "applied but the reply was lost": the request is forwarded and the emulator
  applies it, then the proxy drops the reply and closes the client's socket with a TCP RST. The
  client sees the same dropped connection as ``reset``, but the write took effect, so a retry
  must be idempotent (or read before it writes).

Replies from the emulator that name its own URL (Azure's ``Azure-AsyncOperation`` and
``Location`` headers, bodies) are rewritten to name the proxy, so polls come back through it.
With ``tls=(certfile, keyfile)`` the proxy speaks HTTPS; ``upstream_ca`` verifies an HTTPS
upstream. Everything runs in daemon threads on 127.0.0.1; ``stop`` closes every connection.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from moto_fixtures.proxy_faults import FAULTS, fault_reply

__all__ = ["Captured", "InterceptingProxy", "FAULTS", "call_key"]

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "content-length"}
#: path segments whose next segment is an id (templated as ``*`` in call keys)
COLLECTIONS = {"projects", "locations", "services", "revisions", "operations", "jobs", "executions",
               "subscriptions", "resourcegroups", "containergroups", "containers", "deployments",
               # Microsoft.App (Container Apps) and its operation URLs
               "containerapps", "managedenvironments", "containerappoperationstatuses",
               "containerappoperationresults", "managedenvironmentoperationstatuses"}
_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Captured:
    """One request as the proxy received it."""

    method: str
    path: str
    headers: dict
    body: bytes


def call_key(method: str, path: str, headers: dict, body: bytes) -> str:
    """A stable name for the API call of a request: ``"ecs CreateService"`` for AWS (service from
    the SigV4 scope, action from ``X-Amz-Target`` or the query body), else the method and the
    path with ids templated, e.g. ``"POST /v2/projects/*/locations/*/services"``."""
    lower = {k.lower(): v for k, v in headers.items()}
    scope = _SCOPE.search(lower.get("authorization", ""))
    if scope:
        target = lower.get("x-amz-target")
        if target:
            return f"{scope.group(1)} {target.rsplit('.', 1)[-1]}"
        form = parse_qs(body.decode("utf-8", "replace")) if body else {}
        form = form or parse_qs(urlsplit(path).query)
        action = (form.get("Action") or ["?"])[0]
        return f"{scope.group(1)} {action}"
    segments = urlsplit(path).path.split("/")
    out = []
    for i, seg in enumerate(segments):
        if i > 0 and segments[i - 1].lower() in COLLECTIONS and seg:
            verb = seg.split(":", 1)[1] if ":" in seg else None
            seg = "*" + (f":{verb}" if verb else "")
        out.append(seg)
    return f"{method} {'/'.join(out)}"


class InterceptingProxy:
    """A recording, fault-injecting reverse proxy for one upstream (``http://`` or ``https://``)."""

    def __init__(self, upstream: str, *, tls: tuple[str, str] | None = None, upstream_ca: str | None = None,
                 flavour: str = "generic", hold_s: float = 3.0) -> None:
        self.upstream = upstream.rstrip("/")
        parts = urlsplit(self.upstream)
        self._upstream_https = parts.scheme == "https"
        self._upstream_host = parts.hostname or "127.0.0.1"
        self._upstream_port = parts.port or (443 if self._upstream_https else 80)
        self.tls, self.upstream_ca, self.flavour, self.hold_s = tls, upstream_ca, flavour, hold_s
        self.requests: list[Captured] = []
        self.faulted: list[tuple[int, str, str]] = []   # (index, call key, fault) of each injected fault
        self.url = ""
        self._faults: dict[int, str] = {}
        self._key_faults: dict[tuple[str, int], str] = {}
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()

    # -- control ---------------------------------------------------------------------------------
    def start(self) -> str:
        """Listen on 127.0.0.1 (a free port) and return the proxy's base URL."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="intercepting-proxy", daemon=True)
        self._thread.start()
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{server.server_port}"
        return self.url

    def stop(self) -> None:
        """Stop listening and close every open client connection."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for sock in list(self._sockets):
                _hard_close(sock)
            self._sockets.clear()
        self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> "InterceptingProxy":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def fail(self, index: int, fault: str) -> None:
        """Make the request at position ``index`` of the request log (0-based, counted since the
        proxy started) fail once with ``fault`` (one of ``FAULTS``)."""
        _check(fault)
        with self._lock:
            self._faults[index] = fault

    def fail_call(self, key: str, fault: str, occurrence: int = 1) -> None:
        """Make the ``occurrence``-th request (counted from now) whose ``call_key`` is ``key`` fail
        once with ``fault``."""
        _check(fault)
        with self._lock:
            self._key_faults[(key, self._seen.get(key, 0) + occurrence)] = fault

    def clear(self) -> None:
        """Forget faults not yet triggered."""
        with self._lock:
            self._faults.clear()
            self._key_faults.clear()

    def calls(self) -> list[str]:
        """The call key of every request seen, in order (see :func:`call_key`)."""
        with self._lock:
            return [call_key(r.method, r.path, r.headers, r.body) for r in self.requests]

    # -- used by the handler ----------------------------------------------------------------------
    def _record(self, captured: Captured) -> str | None:
        key = call_key(captured.method, captured.path, captured.headers, captured.body)
        with self._lock:
            index = len(self.requests)
            self.requests.append(captured)
            self._seen[key] = self._seen.get(key, 0) + 1
            fault = self._faults.pop(index, None) or self._key_faults.pop((key, self._seen[key]), None)
            if fault:
                self.faulted.append((index, key, fault))
            return fault

    def _connect(self) -> http.client.HTTPConnection:
        if not self._upstream_https:
            return http.client.HTTPConnection(self._upstream_host, self._upstream_port, timeout=120)
        context = ssl.create_default_context(cafile=self.upstream_ca)
        return http.client.HTTPSConnection(self._upstream_host, self._upstream_port, timeout=120, context=context)

    def _rewrite(self, data: bytes) -> bytes:
        return data.replace(self.upstream.encode(), self.url.encode()) if self.url else data


def _check(fault: str) -> None:
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}: use one of {', '.join(FAULTS)}")


def _hard_close(sock: socket.socket) -> None:
    """Close with a TCP RST (SO_LINGER 0): the peer sees 'connection reset', not a clean EOF."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def _handler(proxy: InterceptingProxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        upstream: http.client.HTTPConnection | None = None

        def log_message(self, *args):  # quiet
            pass

        def setup(self):
            if isinstance(self.request, ssl.SSLSocket):
                self.request.settimeout(30)
                self.request.do_handshake()
                self.request.settimeout(None)
            with proxy._lock:
                proxy._sockets.add(self.request)
            super().setup()

        def finish(self):
            try:
                super().finish()
            except OSError:
                pass
            with proxy._lock:
                proxy._sockets.discard(self.request)
            if self.upstream is not None:
                self.upstream.close()

        def _body(self) -> bytes:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("content-length") or 0))

        def _handle(self):
            body = self._body()
            headers = {k: v for k, v in self.headers.items()}
            fault = proxy._record(Captured(self.command, self.path, headers, body))
            if fault in ("timeout", "reset"):
                if fault == "timeout":
                    time.sleep(proxy.hold_s)
                self.close_connection = True
                self.wfile.flush()
                _hard_close(self.request)
                return
            if fault == "lost_reply":
                self._forward(body, headers, answer=False)
                self.close_connection = True
                _hard_close(self.request)
                return
            if fault:
                status, extra, payload = fault_reply(proxy.flavour, fault, headers)
                return self._answer(status, "", [("Date", self.date_time_string()), *extra], payload)
            self._forward(body, headers)

        def _forward(self, body: bytes, headers: dict, answer: bool = True) -> None:
            send = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
            for attempt in (1, 2):  # a kept-alive upstream connection may have been closed meanwhile
                if self.upstream is None:
                    self.upstream = proxy._connect()
                try:
                    self.upstream.request(self.command, self.path, body=body or None, headers=send)
                    reply = self.upstream.getresponse()
                    data = reply.read()
                    break
                except (OSError, http.client.HTTPException) as exc:
                    self.upstream.close()
                    self.upstream = None
                    if attempt == 2:
                        return self._answer(502, "Bad Gateway", [("Content-Type", "text/plain")],
                                            f"proxy: upstream failed: {type(exc).__name__}".encode())
            extra = [(k, proxy._rewrite(v.encode("latin-1")).decode("latin-1"))
                     for k, v in reply.getheaders() if k.lower() not in HOP_BY_HOP]
            if reply.will_close:
                self.upstream.close()
                self.upstream = None
            if not answer:  # lost_reply: the upstream applied the request; its answer is dropped
                return
            self._answer(reply.status, reply.reason, extra, proxy._rewrite(data))

        def _answer(self, status: int, reason: str, headers: list[tuple[str, str]], payload: bytes) -> None:
            self.send_response_only(status, reason or None)  # the upstream's own Date and Server pass
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    return Handler
