"""One HTTP router per service: the service `uri`, splitting requests by traffic percent.

Each request goes to one revision picked at random with the current percents as weights (what
Cloud Run's front end does per request, without session affinity). A request whose Host starts
with "<tag>---" goes to the revision with that traffic tag, like a tag URL.

Invoker IAM is enforced like Cloud Run's front end (iam.invoke_refusal): a service is private
unless its policy grants roles/run.invoker to allUsers or invoker_iam_disabled is set; then a
request needs an ID token for the service's URL, signed by the emulator's token endpoint
(tokens.py), whose caller holds an invoker role on the service or the project.
"""

from __future__ import annotations

import random

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse

from .iam import UNAUTHENTICATED, invoke_refusal
from .tokens import GCLOUD_CLIENT_ID

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade", "host", "content-length"}


class ServiceRouter:
    """An ASGI app forwarding to revision instances by weight."""

    def __init__(self, service: str, timeout_s: float = 300.0, timeout_status: int = 504):
        self.service = service
        self.timeout_s = timeout_s
        self.timeout_status = timeout_status
        self.weighted: list[tuple[str, str, int]] = []  # (revision, base url, percent)
        self.tags: dict[str, str] = {}  # tag -> base url
        self.client = httpx.AsyncClient(timeout=timeout_s)
        self.refusal = lambda headers: None  # replaced by the invoker IAM check


    def update(self, weighted: list[tuple[str, str, int]], tags: dict[str, str],
               timeout_s: float | None = None) -> None:
        """Replace the routing table (called after each successful reconciliation)."""
        self.weighted = list(weighted)
        self.tags = dict(tags)
        if timeout_s:
            self.timeout_s = timeout_s

    def pick(self, host_header: str) -> str | None:
        """Base URL for one request: a tag's revision, or a weighted random choice."""
        tag = host_header.split("---", 1)[0] if "---" in host_header else None
        if tag and tag in self.tags:
            return self.tags[tag]
        if not self.weighted:
            return None
        urls = [url for _, url, _ in self.weighted]
        return random.choices(urls, weights=[p for _, _, p in self.weighted])[0]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        refused = self.refusal(request.headers)
        if refused is not None:
            page = unauthorized if refused == UNAUTHENTICATED else forbidden
            await page(request.url.path)(scope, receive, send)
            return
        target = self.pick(request.headers.get("host", ""))
        if target is None:
            reply = JSONResponse({"error": f"service '{self.service}' has no revision serving "
                                  "traffic"}, status_code=503)
            await reply(scope, receive, send)
            return
        reply = await self.forward(request, target)
        await reply(scope, receive, send)

    async def forward(self, request: Request, target: str):
        """Send the request to `target` and stream the answer back."""
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        url = target + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        outgoing = self.client.build_request(request.method, url, headers=headers,
                                             content=await request.body(),
                                             timeout=self.timeout_s)
        try:
            upstream = await self.client.send(outgoing, stream=True)
        except httpx.TimeoutException:
            # The request timeout of the revision elapsed: Cloud Run answers 504.
            return JSONResponse({"error": "upstream request timeout"},
                                status_code=self.timeout_status)
        except httpx.HTTPError as exc:
            return JSONResponse({"error": f"upstream request failed: {type(exc).__name__}"},
                                status_code=503)
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
        return StreamingResponse(upstream.aiter_raw(), status_code=upstream.status_code,
                                 headers=out_headers, background=BackgroundTask(upstream.aclose))

    async def aclose(self) -> None:
        """Close the outgoing connection pool."""
        await self.client.aclose()


def forbidden(path: str) -> HTMLResponse:
    """Cloud Run's 403 page for a caller without run.routes.invoke."""
    return HTMLResponse(
        "<html><head><title>403 Forbidden</title></head><body><h1>Error: Forbidden</h1>"
        f"<h2>Your client does not have permission to get URL <code>{path}</code> from this "
        "server.</h2></body></html>", status_code=403)


def unauthorized(path: str) -> HTMLResponse:
    """Cloud Run's 401 page for an ID token it cannot accept (bad signature, audience, expiry)."""
    return HTMLResponse(
        "<html><head><title>401 Unauthorized</title></head><body><h1>Error: Unauthorized</h1>"
        f"<h2>Your client does not have permission to the requested URL <code>{path}</code>.</h2>"
        "</body></html>", status_code=401, headers={"www-authenticate": 'Bearer error="invalid_token"'})


class RouterHost:
    """Opens, updates and closes the routers of services and of their traffic tags.

    Each traffic tag gets its own router (its own port) pinned to the tagged revision: the
    local stand-in for Cloud Run's tag URL, reported in traffic_statuses[].uri.
    """

    def __init__(self, loop_thread, host: str = "127.0.0.1", enforce_invoker_iam: bool = True,
                 timeout_status: int = 504, tokens=None, project_invokers=lambda: set()):
        self.loop_thread = loop_thread
        self.tokens = tokens  # a TokenIssuer verifying ID tokens (none: no token is valid)
        self.project_invokers = project_invokers
        self.timeout_status = timeout_status
        self.host = host
        self.enforce_invoker_iam = enforce_invoker_iam

    def _router(self, record, label: str, timeout: float, tag: str | None = None) -> ServiceRouter:
        router = ServiceRouter(label, timeout_s=timeout, timeout_status=self.timeout_status)
        if self.enforce_invoker_iam:
            router.refusal = lambda headers: invoke_refusal(
                record, headers, lambda token: self._caller(record, token, tag), self.project_invokers())
        return router

    def _caller(self, record, token: str, tag: str | None = None) -> str:
        """The email of a valid ID token addressed to the URL the request came in on.

        The service URL (or a custom audience) is accepted on every URL of the service, a tag's URL
        only on that tag's URL. Sources: https://cloud.google.com/run/docs/configuring/custom-audiences
        ("the default Google-generated URL always remains an accepted audience value"; audiences are
        set per service and "apply to all serving revisions", a tagged one included) and
        https://cloud.google.com/run/docs/authenticating/service-to-service (aud is the URL of the
        receiving service). The docs do not say whether a token for one tag URL opens another URL of
        the service; the stricter reading is enforced: it does not (it is another receiving URL,
        the replay the audience exists to prevent).
        """
        if self.tokens is None:
            raise ValueError("no token issuer")
        # and a user's `gcloud auth print-identity-token` (tokens.GCLOUD_CLIENT_ID cites why)
        audiences = {record.data.get("uri") or "", GCLOUD_CLIENT_ID} | set(record.data.get("customAudiences") or [])
        served = getattr(record, "tag_routers", {}).get(tag) if tag else None
        if served is not None:
            audiences.add(served[1].url)
        return self.tokens.verify(token, {a.rstrip("/") for a in audiences if a})

    def open(self, record) -> None:
        """Start a router for a new service; its URL becomes the service uri."""
        record.router = self._router(record, record.service_id, _timeout(record))
        record.served = self.loop_thread.serve(record.router, host=self.host)
        record.tag_routers = {}

    def update(self, record, table: list[tuple[str, str, int]],
               tags: dict[str, tuple[str, str]]) -> dict[str, str]:
        """Switch the routing tables; `tags` maps tag -> (revision, url). Returns tag URLs."""
        if record.router is None:
            return {}
        timeout = _timeout(record)
        record.router.update(table, {t: url for t, (_, url) in tags.items()}, timeout)
        for tag in set(record.tag_routers) - set(tags):
            self._close(*record.tag_routers.pop(tag))
        for tag, (revision, url) in tags.items():
            if tag not in record.tag_routers:
                router = self._router(record, f"{record.service_id}/{tag}", timeout, tag)
                record.tag_routers[tag] = (router, self.loop_thread.serve(router, host=self.host))
            record.tag_routers[tag][0].update([(revision, url, 100)], {}, timeout)
        return {tag: served.url for tag, (_, served) in record.tag_routers.items()}

    def close(self, record) -> None:
        """Stop a service's router and its tag routers."""
        for router, served in getattr(record, "tag_routers", {}).values():
            self._close(router, served)
        record.tag_routers = {}
        if record.served is not None:
            self._close(record.router, record.served)
            record.served = None

    def _close(self, router: ServiceRouter, served) -> None:
        self.loop_thread.stop_serving(served)
        self.loop_thread.call(router.aclose())


def _timeout(record) -> float:
    return float(record.data.get("template", {}).get("timeout", "300s").rstrip("s"))
