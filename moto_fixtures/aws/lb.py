"""The ALB data plane: serve each application load balancer's DNS name on its listener ports.

Every load balancer gets a loopback address, written to /etc/hosts next to its ``DNSName``. Each
HTTP listener is a small proxy on that address and port. Per request it reads the listener's
CURRENT rules from moto (so ``modify_listener`` takes effect on the next request), takes the
first matching rule's action (``rules.py``), picks a target group by its forward weights, and sends the request to a healthy task of the ECS service
registered behind that group. No healthy target: 503; target unreachable: 502 (as an ALB does).
An HTTPS listener is served with TLS using its certificate, which must exist in ACM (an ALB
refuses a listener whose certificate ACM does not hold: CertificateNotFound,
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateListener.html) and
whose private key the emulation has (the certificate it made at start-up and imported into ACM:
ACM never hands out the key of an imported certificate). Redirect actions answer the redirect.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Callable

import httpx
from botocore.exceptions import ClientError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .aio import HttpServer, LoopThread
from .bridge import EcsBridge
from .ecs_state import Listener, alb_listeners
from .hosts import HostsBlock
from .net import LoopbackPool
from .rules import RequestFacts, chosen_action, forward_weights

log = logging.getLogger(__name__)
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailers", "transfer-encoding", "upgrade", "content-length", "host"}
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def pick_target_group(weights: list[tuple[str, int]], rng: random.Random) -> str | None:
    """Choose a target group in proportion to its weight; None when every weight is 0."""
    live = [(arn, weight) for arn, weight in weights if weight > 0]
    if not live:
        return None
    return rng.choices([arn for arn, _ in live], [w for _, w in live])[0]


def _redirect(action: dict, request: Request) -> Response:
    """A redirect action's answer: each RedirectConfig part defaults to the request's own
    (``#{protocol}``, ``#{host}``, ``#{port}``, ``#{path}``, ``#{query}``; see "Redirect actions" in
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html)."""
    cfg = action.get("RedirectConfig", {})
    host = request.headers.get("host", "").split(":")[0]
    own = {"#{protocol}": request.url.scheme, "#{host}": host, "#{port}": str(request.url.port or 80),
           "#{path}": request.url.path.lstrip("/"), "#{query}": request.url.query}

    def part(key: str, default: str) -> str:
        value = str(cfg.get(key) or default)
        for placeholder, actual in own.items():
            value = value.replace(placeholder, actual)
        return value

    protocol = part("Protocol", "#{protocol}").lower()
    port = part("Port", "#{port}")
    shown_port = "" if (protocol, port) in (("https", "443"), ("http", "80")) else f":{port}"
    query = part("Query", "#{query}")
    location = f"{protocol}://{part('Host', '#{host}')}{shown_port}/{part('Path', '/#{path}').lstrip('/')}"
    status = 301 if cfg.get("StatusCode", "HTTP_301") == "HTTP_301" else 302
    return Response(status_code=status, headers={"location": location + (f"?{query}" if query else "")})


def _non_forward_response(action: dict, request: Request) -> Response:
    if action.get("Type") == "redirect":
        return _redirect(action, request)
    if action.get("Type") == "fixed-response":
        cfg = action.get("FixedResponseConfig", {})
        return Response(cfg.get("MessageBody", ""), status_code=int(cfg.get("StatusCode", 503)),
                        media_type=cfg.get("ContentType", "text/plain"))
    return Response(f"listener action {action.get('Type')!r} is not emulated", status_code=503)


def _facts(request: Request) -> RequestFacts:
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers.setdefault(name.lower(), []).append(value)
    return RequestFacts(method=request.method, path=request.url.path,
                        host=request.headers.get("host", ""), headers=headers,
                        query=list(request.query_params.multi_items()),
                        source_ip=request.client.host if request.client else "")


class ListenerProxy:
    """The ASGI app of one listener."""

    def __init__(self, listener: Listener, elbv2, bridge: EcsBridge, http: httpx.AsyncClient):
        self.listener = listener
        self._elbv2 = elbv2
        self._bridge = bridge
        self._http = http
        self._rng = random.Random()
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=_METHODS)])

    async def _handle(self, request: Request) -> Response:
        try:
            rules = await run_in_threadpool(self._rules)
        except ClientError:  # deleted since the last poll: this address stops answering soon
            return Response("503 Service Temporarily Unavailable", status_code=503)
        action = chosen_action(rules, _facts(request))
        weights = forward_weights(action)
        if weights is None:
            return _non_forward_response(action, request)
        group = pick_target_group(weights, self._rng)
        targets = self._bridge.healthy_targets(group) if group else []
        if not targets:
            return Response("503 Service Temporarily Unavailable", status_code=503)
        address, port = self._rng.choice(targets)
        return await self._forward(request, address, port)

    def _rules(self) -> list[dict]:
        # Read on every request: modify_listener / set_rule_priorities apply to the next one.
        return self._elbv2.describe_rules(ListenerArn=self.listener.arn)["Rules"]

    async def _forward(self, request: Request, address: str, port: int) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        client = request.client.host if request.client else ""
        headers.update({"X-Forwarded-For": client, "X-Forwarded-Proto": self.listener.protocol.lower(),
                        "X-Forwarded-Port": str(self.listener.port),
                        "Host": request.headers.get("host", "")})
        url = f"http://{address}:{port}{request.url.path}"
        if request.url.query:
            url += "?" + request.url.query
        try:
            reply = await self._http.request(request.method, url, headers=headers,
                                             content=await request.body())
        except httpx.HTTPError:
            return Response("502 Bad Gateway", status_code=502)
        out = {k: v for k, v in reply.headers.items() if k.lower() not in _HOP_BY_HOP}
        out.pop("content-encoding", None)  # httpx already decoded the body
        return Response(reply.content, status_code=reply.status_code, headers=out)


class LoadBalancerPlane:
    """Keeps one proxy per ALB listener and the hosts entries in step with moto's ELBv2."""

    def __init__(self, client: Callable[[str], object], bridge: EcsBridge, runner: LoopThread,
                 pool: LoopbackPool, hosts: HostsBlock, interval: float = 0.5,
                 key_pairs: dict[str, tuple[str, str]] | None = None):
        self._client = client
        self._key_pairs = dict(key_pairs or {})  # ACM certificate ARN -> (chain PEM file, key PEM file)
        self._bridge = bridge
        self._runner = runner
        self._pool = pool
        self._hosts = hosts
        self.interval = interval
        self._servers: dict[str, HttpServer] = {}  # listener arn -> server
        self._addresses: dict[str, tuple[str, str]] = {}  # lb arn -> (address, dns name)
        self._http = httpx.AsyncClient(timeout=60)
        self._elbv2 = client("elbv2")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.errors: dict[str, str] = {}  # listener arn -> why it is not served

    def start(self) -> "LoadBalancerPlane":
        """Start polling ELBv2 in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="alb-plane", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - keep polling
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("ALB plane pass failed: %s", self.last_error)
            self._stop.wait(self.interval)

    def tick(self) -> None:
        """Start proxies for new listeners, stop those of deleted ones, sync /etc/hosts."""
        listeners = {item.arn: item for item in alb_listeners(self._client("elbv2"))}
        for arn in list(self._servers):
            if arn not in listeners or listeners[arn].port != self._servers[arn].port:
                self._servers.pop(arn).stop()  # deleted, or modify_listener changed its port
        for listener in listeners.values():
            if listener.arn in self._servers:
                continue
            if listener.protocol not in ("HTTP", "HTTPS"):
                self.errors[listener.arn] = f"{listener.protocol} listeners are not emulated"
                continue
            tls = self._tls(listener) if listener.protocol == "HTTPS" else None
            if listener.protocol == "HTTP" or tls is not None:
                self._serve(listener, tls)
        live_lbs = {item.load_balancer_arn for item in listeners.values()}
        for lb_arn in list(self._addresses):
            if lb_arn not in live_lbs:
                address, dns = self._addresses.pop(lb_arn)
                self._hosts.remove(dns)
                self._pool.release(address)

    def _tls(self, listener: Listener) -> tuple[str, str] | None:
        """The certificate and key files an HTTPS listener serves, or None (reason in ``errors``)."""
        arn = listener.certificates[0] if listener.certificates else None
        try:
            if arn is None:
                raise ClientError({"Error": {"Code": "CertificateNotFound"}}, "DescribeCertificate")
            self._client("acm").describe_certificate(CertificateArn=arn)
        except ClientError:
            self.errors[listener.arn] = f"certificate {arn} does not exist in ACM"
            return None
        if arn not in self._key_pairs:
            self.errors[listener.arn] = f"the emulation has no private key for certificate {arn}"
            return None
        return self._key_pairs[arn]

    def _serve(self, listener: Listener, tls: tuple[str, str] | None = None) -> None:
        address, _ = self._addresses.get(listener.load_balancer_arn) or (None, None)
        if address is None:
            address = self._pool.allocate(listener.port)
            self._addresses[listener.load_balancer_arn] = (address, listener.dns_name)
        proxy = ListenerProxy(listener, self._elbv2, self._bridge, self._http)
        try:
            self._servers[listener.arn] = HttpServer(self._runner, proxy.app, address,
                                                     listener.port, tls=tls).start()
        except OSError as exc:  # tried again on the next pass
            self.errors[listener.arn] = f"cannot listen on {address}:{listener.port}: {exc}"
            return
        self.errors.pop(listener.arn, None)
        self._hosts.set(listener.dns_name, address)

    def address_of(self, dns_name: str) -> str | None:
        """The loopback address serving ``dns_name``, or None."""
        return next((a for a, d in self._addresses.values() if d == dns_name), None)

    def serving(self, dns_name: str, port: int) -> bool:
        """True when a proxy serves ``dns_name:port``."""
        address = self.address_of(dns_name)
        return any(s.host == address and s.port == port for s in self._servers.values())

    def stop(self) -> None:
        """Stop polling and every proxy; remove the hosts entries."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        for server in self._servers.values():
            server.stop()
        self._servers.clear()
        for address, dns in self._addresses.values():
            self._hosts.remove(dns)
            self._pool.release(address)
        self._addresses.clear()
        self._runner.run(self._http.aclose(), 10)
