"""HTTP/1.1 for the registry client: a thread-safe keep-alive connection pool on the standard
library's :mod:`http.client`.

Why not httpx, which the rest of modelport uses: ``modelport copy`` of an image the destination
already has is a dozen small requests, and importing httpx with httpcore and h11 (httpx's auth
module alone pulls in ``urllib.request``) cost more than a third of such a copy's wall time, the
difference between about skopeo's time and several times it (``benchmarks/registry_copy.py``).
:mod:`http.client` is the HTTP implementation Python itself ships; what is added here is what the
registry protocol needs around it:

* a pool of keep-alive connections per origin shared by the transfer's threads (an idle
  connection the server has closed is noticed before reuse, and a GET or HEAD that finds it
  closed anyway is sent once more on a fresh one);
* streamed request bodies from an iterator with a known ``Content-Length`` and streamed replies;
* redirects for GET/HEAD (blob storage backends), dropping ``Authorization`` on another origin;
* TLS set up on first https use only, with httpx's choice of trust store (``verify=True``:
  ``SSL_CERT_FILE``, else ``SSL_CERT_DIR``, else certifi's bundle; a path: that CA bundle or
  directory; ``False``: no verification), so plain-http copies never load a CA bundle;
* the standard proxy variables (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``),
  as httpx and curl read them, through an ``http://`` proxy (a CONNECT tunnel for https).

Every failure to connect, send or read is a :class:`TransportError` (retried by the caller's
policy); its message names the exception type and the origin, never a header. A certificate that
does not verify is an :class:`UntrustedCertificate` instead: no retry can fix it.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import select
import ssl  # http.client imports it anyway
import threading
from typing import Iterable, Iterator
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit

log = logging.getLogger(__name__)

REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 10
_NETWORK_ERRORS = (OSError, http.client.HTTPException)


class TransportError(Exception):
    """The request did not get an answer: connection refused or reset, timeout, TLS failure."""


class UntrustedCertificate(Exception):
    """The server's TLS certificate does not verify against the trust store: retrying cannot help."""


class _BodyFailed(Exception):
    """The request body's own iterator raised (e.g. a digest mismatch): not a network error."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def with_params(url: str, params: dict | list | None) -> str:
    """``url`` with ``params`` merged into its query string (a key given replaces the URL's own;
    ``None`` values are dropped). Upload Locations carry their session state in the query."""
    if not params:
        return url
    pairs = list(params.items()) if isinstance(params, dict) else list(params)
    given = {k for k, _ in pairs}
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in given]
    query = urlencode(kept + [(k, v) for k, v in pairs if v is not None])
    return parts._replace(query=query).geturl()


class Response:
    """A reply: status, headers (case-insensitive), and the body read whole or streamed.

    Closing a reply whose body was read to the end gives its connection back to the pool."""

    def __init__(self, raw: http.client.HTTPResponse, sent: dict, release) -> None:
        self._raw = raw
        self._release = release
        self._content: bytes | None = None
        self.status_code = raw.status
        self.headers = raw.headers
        self.sent_headers = sent  # what this request carried (e.g. which Authorization was refused)

    @property
    def content(self) -> bytes:
        """The whole body (read on first use)."""
        if self._content is None:
            self._content = self._reading(self._raw.read)
            self.close()
        return self._content

    def read(self) -> bytes:
        """Read the whole body (see :attr:`content`)."""
        return self.content

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.content)

    def iter_raw(self, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        """The body as it arrives, in chunks of at most ``chunk_size`` bytes.

        64 KiB by default, as httpcore reads: a larger ``read1`` allocates its whole size for each
        call before trimming to what the socket had, which multiplied a copy's peak memory by ten
        (``tracemalloc`` over a copy of six layers: 1.3 MB at 64 KiB, 17 MB at 1 MiB)."""
        while True:
            chunk = self._reading(self._raw.read1, chunk_size)
            if not chunk:
                self.close()
                return
            yield chunk

    def iter_bytes(self, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        """The body with its ``Content-Encoding`` (gzip, deflate) undone."""
        import zlib

        encoding = (self.headers.get("content-encoding") or "identity").lower()
        if encoding == "identity":
            yield from self.iter_raw(chunk_size)
            return
        if encoding not in ("gzip", "deflate"):
            raise TransportError(f"unsupported Content-Encoding {encoding!r}")
        decoder = zlib.decompressobj(31 if encoding == "gzip" else 15)
        for chunk in self.iter_raw(chunk_size):
            if data := decoder.decompress(chunk):
                yield data
        if tail := decoder.flush():
            yield tail

    def close(self) -> None:
        """Done with this reply: its connection is reused if the body was read to the end."""
        if self._release is None:
            return
        release, self._release = self._release, None
        release(self._raw.isclosed() and not self._raw.will_close)
        self._raw.close()

    def _reading(self, read, *args) -> bytes:
        """``read(*args)``; a network failure drops the connection and is a TransportError."""
        try:
            return read(*args)
        except _NETWORK_ERRORS as exc:
            if self._release is not None:
                release, self._release = self._release, None
                release(False)
            raise TransportError(f"reading the reply failed ({type(exc).__name__})") from None


class HttpPool:
    """Keep-alive connections per origin, shared by threads; each request holds one exclusively."""

    def __init__(self, verify: bool | str = True, timeout: float = 60.0, connect_timeout: float = 15.0,
                 max_idle: int = 32) -> None:
        self._verify = verify
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._max_idle = max_idle
        self._idle: dict[tuple, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._tls = None

    def __enter__(self) -> "HttpPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def request(self, method: str, url: str, *, headers: dict | None = None, body=None,
                stream: bool = False, follow_redirects: bool = False) -> Response:
        """Send one request; with ``stream`` the body is left unread for :meth:`Response.iter_raw`.

        ``body``: ``None``, bytes, or an iterable of bytes (then ``headers`` carry its
        ``Content-Length``; such a body is sent once and never replayed)."""
        headers = dict(headers or {})
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._send(method, url, headers, body)
            location = response.headers.get("location")
            if not (follow_redirects and response.status_code in REDIRECTS and location):
                break
            response.read()  # to the end, so the connection is reused
            target = urljoin(url, location)
            if _origin(target) != _origin(url):
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = target
        else:
            raise TransportError(f"more than {MAX_REDIRECTS} redirects from {_origin(url)[1]}")
        if not stream:
            response.read()
        return response

    def _send(self, method: str, url: str, headers: dict, body) -> Response:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError(f"not an http(s) URL: {parts.scheme}://{parts.hostname or ''}")
        streamed = not (body is None or isinstance(body, (bytes, bytearray)))
        if streamed:
            body = _guarded(body)
        # Sent again on a fresh connection only if it reads (GET, HEAD): a PUT or POST that the
        # server received before the connection broke must not happen twice (a committed upload
        # session is gone: the caller's retry starts the step afresh instead).
        replayable = method in ("GET", "HEAD")
        proxy = _proxy_for(parts.scheme, parts.hostname)
        key = (parts.scheme, parts.hostname, parts.port, proxy)
        target = url if proxy and parts.scheme == "http" else (parts.path or "/") + (
            f"?{parts.query}" if parts.query else "")
        sent = dict(headers)
        if proxy and parts.scheme == "http" and (auth := _proxy_authorization(proxy)):
            headers = {**headers, "Proxy-Authorization": auth}
        for attempt in (1, 2):
            connection, reused = self._acquire(key)
            try:
                connection.request(method, target, body=body, headers=headers)
                raw = connection.getresponse()
            except _BodyFailed as failed:
                connection.close()
                raise failed.error from None
            except _NETWORK_ERRORS as exc:
                connection.close()
                if reused and replayable and attempt == 1:
                    continue  # the server closed a kept-alive connection just as it was reused
                raise TransportError(f"{type(exc).__name__} talking to {parts.hostname}") from None
            log.debug("%s %s://%s%s -> %d", method, parts.scheme, parts.hostname, parts.path, raw.status)
            return Response(raw, sent, lambda ok, c=connection: self._give_back(key, c, ok))
        raise AssertionError("unreachable")

    def _acquire(self, key: tuple) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                connection = idle.pop()
                if _still_open(connection):
                    return connection, True
                connection.close()
        return self._connect(key), False

    def _give_back(self, key: tuple, connection: http.client.HTTPConnection, reusable: bool) -> None:
        if reusable:
            with self._lock:
                idle = self._idle.setdefault(key, [])
                if len(idle) < self._max_idle:
                    idle.append(connection)
                    return
        connection.close()

    def _connect(self, key: tuple) -> http.client.HTTPConnection:
        scheme, host, port, proxy = key
        port = port or (443 if scheme == "https" else 80)
        address, at = host, port
        if proxy:
            via = urlsplit(proxy)
            if via.scheme != "http":
                raise TransportError(f"only http:// proxies are supported (the {scheme} proxy is {via.scheme}://)")
            address, at = via.hostname, via.port or 80
        context = self._context() if scheme == "https" else None  # a bad CA path is not retried
        try:
            if scheme == "https":
                connection = http.client.HTTPSConnection(address, at, timeout=self._connect_timeout,
                                                         context=context)
                if proxy:  # a CONNECT tunnel through the proxy, TLS end to end inside it
                    auth = _proxy_authorization(proxy)
                    connection.set_tunnel(host, port, headers={"Proxy-Authorization": auth} if auth else None)
            else:
                connection = http.client.HTTPConnection(address, at, timeout=self._connect_timeout)
            connection.connect()
        except ssl.SSLCertVerificationError as exc:
            raise UntrustedCertificate(
                f"the TLS certificate of {host} is not trusted ({exc.verify_message}): add its CA to the "
                "bundle SSL_CERT_FILE names (or the provider's ca_bundle setting)") from None
        except _NETWORK_ERRORS as exc:
            raise TransportError(f"{type(exc).__name__} connecting to {host}") from None
        connection.sock.settimeout(self._timeout)
        return connection

    def _context(self):
        """The TLS context, built on first https use (loading a CA bundle is not free)."""
        with self._lock:
            if self._tls is None:
                self._tls = tls_context(self._verify)
            return self._tls


def tls_context(verify: bool | str) -> ssl.SSLContext:
    """An :class:`ssl.SSLContext` for ``verify`` chosen as httpx chooses it (see the module doc)."""
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        return ssl.create_default_context(**{"capath" if os.path.isdir(verify) else "cafile": verify})
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def basic_authorization(username: str, password: str) -> str:
    """An ``Authorization: Basic`` header value."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _origin(url: str) -> tuple:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """An idle keep-alive socket that is readable has been closed by the server (or sent
    something unasked): either way it cannot carry the next request."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _guarded(body: Iterable[bytes]) -> Iterator[bytes]:
    """Pass ``body`` through, telling its own errors apart from the connection's."""
    iterator = iter(body)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except BaseException as exc:  # the source failed (digest mismatch, abort): not the network
            raise _BodyFailed(exc) from None
        yield chunk


def _proxy_for(scheme: str, host: str) -> str | None:
    """The proxy URL the environment sets for ``scheme://host``, if any (``NO_PROXY`` honoured).

    ``urllib.request`` (which reads these variables as curl does) is imported only when one of
    them is set."""
    if not any(name.lower().endswith("_proxy") and value for name, value in os.environ.items()):
        return None
    from urllib.request import getproxies_environment, proxy_bypass_environment

    proxies = getproxies_environment()
    if proxy_bypass_environment(host, proxies):
        return None
    proxy = proxies.get(scheme) or proxies.get("all")
    if proxy and "://" not in proxy:
        proxy = f"http://{proxy}"
    return proxy or None


def _proxy_authorization(proxy: str) -> str | None:
    parts = urlsplit(proxy)
    if parts.username is None:
        return None
    return basic_authorization(unquote(parts.username), unquote(parts.password or ""))
