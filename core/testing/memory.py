"""An in-memory provider for tests: real HTTP endpoints, state in dicts, faults on command.

Each revision is a tiny HTTP server on 127.0.0.1 answering the OIP health and infer routes with
outputs that carry the model version, so tests can tell which revision answered. The deployment
endpoint is a router choosing a revision by the current traffic weights. ``faults`` makes any
primitive fail (the n-th call, or always) so every strategy's rollback can be exercised.

It is also the short template of a provider (``modelport new-provider`` follows its shape) and
passes the conformance suite (``tests/conformance/test_mutations.py`` runs it there): the
``api`` setting stands for the cloud's control plane, whose failures become ``ProviderError``s
the way an SDK's must, and ``FAKE_BROKEN`` in a revision's env plants a runtime fault
(``never-ready``, ``wrong-shape``, ``loading``: 503 for a moment after the revision starts,
``slow``: each prediction takes ``SLOW_S``, ``errors``: every ``ERROR_EVERY``-th prediction
answers 500).
"""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping

import httpx
from pydantic import BaseModel, ConfigDict

from modelport.errors import CapabilityError, ProviderError
from modelport.hookspecs import hookimpl
from modelport.provider import (Capabilities, Health, InfraChange, Observed, Provider, Resource,
                                Revision, RevisionSpec, Target)


class _Server:
    def __init__(self, handler) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


#: seconds a revision with ``FAKE_BROKEN=loading`` answers 503 after it starts
LOADING_S = 1.0
#: seconds each prediction of a revision with ``FAKE_BROKEN=slow`` takes
SLOW_S = 0.3
#: a revision with ``FAKE_BROKEN=errors`` answers every n-th prediction with a 500
ERROR_EVERY = 4


def _revision_handler(rev: RevisionSpec, broken: str | None):
    started = time.monotonic()
    answered = [0]  # predictions so far (ThreadingHTTPServer: one thread per request)
    count = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _loading(self) -> bool:  # "loading": the model needs a moment after the server starts
            return broken == "loading" and time.monotonic() < started + LOADING_S

        def do_GET(self):
            ready = broken != "never-ready" and not self._loading()
            self._send(200 if ready else 503, {"ready": ready})

        def do_POST(self):
            if self._loading():
                return self._send(503, {"error": "model is loading"})
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            with count:
                answered[0] += 1
                nth = answered[0]
            if broken == "slow":
                time.sleep(SLOW_S)
            if broken == "errors" and nth % ERROR_EVERY == 0:
                return self._send(500, {"error": "planted failure"})
            rows = body["inputs"][0]["shape"][0]
            shape = [rows + 1] if broken == "wrong-shape" else [rows]
            self._send(200, {"model_name": rev.model_name, "model_version": rev.model_version,
                             "outputs": [{"name": "version", "datatype": "BYTES", "shape": shape,
                                          "data": [rev.model_version] * shape[0]}]})

    return Handler


class MemorySettings(BaseModel):
    """``[targets.NAME]`` of the memory provider. ``api``: an HTTP URL standing for the cloud's
    control plane; when set, every cloud call first asks it, so its errors show how a provider
    maps an SDK's failures (429 and 5xx retryable, other answers and no answer not)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    api: str | None = None


class MemoryProvider(Provider):
    """Revisions and traffic kept in memory; endpoints are real local HTTP servers."""

    name = "memory"
    description = "in-memory test provider"
    capabilities = Capabilities(traffic_split=True, needs_registry=False)
    settings_model = MemorySettings

    def __init__(self, split: bool = True) -> None:
        if not split:
            self.capabilities = Capabilities(traffic_split=False, needs_registry=False)
        self.revisions: dict[str, dict[str, tuple[RevisionSpec, _Server]]] = {}
        self.traffic: dict[str, dict[str, int]] = {}
        self.routers: dict[str, _Server] = {}
        self.infra: set[str] = set()
        self.faults: dict[str, int] = {}     # primitive -> fail on the n-th call (1-based); 0 = always
        self.calls: dict[str, int] = {}
        self.writes: list[str] = []
        self.traffic_log: list[dict[str, int]] = []
        # one pooled client for every router: a new client per request costs more than the request
        self.http = httpx.Client(timeout=10)

    # fault injection and the control plane -------------------------------------------------
    def _call(self, primitive: str, target: Target | None = None) -> None:
        self.calls[primitive] = self.calls.get(primitive, 0) + 1
        wanted = self.faults.get(primitive)
        if wanted is not None and (wanted == 0 or wanted == self.calls[primitive]):
            raise ProviderError(self.name, primitive, "injected fault", retryable=True)
        api = getattr(target.settings, "api", None) if target is not None else None
        if api:
            self._ask_api(api, primitive)

    def _ask_api(self, api: str, primitive: str) -> None:
        """One control-plane request; its failure becomes a ProviderError, as an SDK's must."""
        try:
            reply = self.http.get(f"{api.rstrip('/')}/{primitive}", timeout=5)
        except httpx.HTTPError as exc:
            raise ProviderError(self.name, primitive, f"the API does not answer ({type(exc).__name__})") from None
        if reply.status_code >= 400:
            # throttling and server errors pass; trying again later may succeed
            raise ProviderError(self.name, primitive, f"the API answered {reply.status_code}",
                                retryable=reply.status_code == 429 or reply.status_code >= 500)

    # reads --------------------------------------------------------------------------------------
    def observe(self, target: Target, deployment: str) -> Observed:
        self._call("observe", target)
        key = _key(target, deployment)
        revs = tuple(Revision(name, spec.image.digest, spec.config, True, server.url,
                              extra={"model_version": spec.model_version})
                     for name, (spec, server) in sorted(self.revisions.get(key, {}).items()))
        router = self.routers.get(key)
        return Observed(deployment, revs, dict(self.traffic.get(key, {})),
                        router.url if router and self.traffic.get(key) else None,
                        tuple(sorted(i for i in self.infra if i.startswith(key + "/"))))

    def infrastructure_plan(self, target, deployment, observed):
        return [] if observed.infrastructure else [InfraChange("create", "router", deployment)]

    def health(self, target: Target, deployment: str, revision: str) -> Health:
        self._call("health", target)
        entry = self.revisions.get(_key(target, deployment), {}).get(revision)
        if entry is None:
            return Health(False, "no such revision", failed=True)
        url = entry[1].url
        try:
            code = httpx.get(f"{url}/v2/health/ready", timeout=2).status_code
        except httpx.HTTPError as exc:
            return Health(False, str(exc), url)
        return Health(code == 200, f"ready answered {code}", url)

    def list_resources(self, target: Target) -> list[Resource]:
        return [Resource("revision", f"{k}/{r}", k.split("/", 1)[1], r, spec.image.digest)
                for k, revs in self.revisions.items() if k.startswith(target.name + "/")
                for r, (spec, _s) in revs.items()]

    # writes -------------------------------------------------------------------------------------
    def ensure_infrastructure(self, target: Target, deployment: str) -> None:
        self._call("ensure_infrastructure", target)
        self.writes.append("ensure_infrastructure")
        key = _key(target, deployment)
        self.infra.add(f"{key}/router")
        if key not in self.routers:
            self.routers[key] = _Server(self._router_handler(key))

    def create_revision(self, target: Target, rev: RevisionSpec) -> Revision:
        self._call("create_revision", target)
        self.writes.append(f"create_revision {rev.revision}")
        revs = self.revisions.setdefault(_key(target, rev.deployment), {})
        if rev.revision not in revs:
            revs[rev.revision] = (rev, _Server(_revision_handler(rev, rev.env.get("FAKE_BROKEN"))))
        spec, server = revs[rev.revision]
        return Revision(rev.revision, spec.image.digest, spec.config, True, server.url)

    def delete_revision(self, target: Target, deployment: str, revision: str) -> None:
        self._call("delete_revision", target)
        self.writes.append(f"delete_revision {revision}")
        key = _key(target, deployment)
        entry = self.revisions.get(key, {}).pop(revision, None)
        if entry:
            entry[1].stop()
        self.traffic.get(key, {}).pop(revision, None)

    def set_traffic(self, target: Target, deployment: str, weights: Mapping[str, int]) -> None:
        self._call("set_traffic", target)
        live = {k: v for k, v in weights.items() if v}
        if not self.capabilities.traffic_split and list(live.values()) != [100]:
            raise CapabilityError("cannot split")
        key = _key(target, deployment)
        if sum(live.values()) != 100 or any(k not in self.revisions.get(key, {}) for k in live):
            raise ProviderError(self.name, "set_traffic", f"invalid weights {weights}")
        self.writes.append(f"set_traffic {live}")
        self.traffic[key] = live
        self.traffic_log.append(dict(live))

    def destroy(self, target: Target, deployment: str) -> None:
        self._call("destroy", target)
        key = _key(target, deployment)
        for name in list(self.revisions.get(key, {})):
            self.delete_revision(target, deployment, name)
        self.traffic.pop(key, None)
        self.infra.discard(f"{key}/router")
        router = self.routers.pop(key, None)
        if router:
            router.stop()

    def close(self) -> None:
        for key in list(self.revisions) + list(self.routers):
            target_name, deployment = key.split("/", 1)
            self.destroy(Target(target_name, self.name, None), deployment)

    def _router_handler(self, key: str):
        provider = self

        class Router(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self, method: str) -> None:
                weights = provider.traffic.get(key) or {}
                if not weights:
                    self.send_response(503)
                    self.end_headers()
                    return
                name = random.choices(list(weights), weights=list(weights.values()))[0]
                url = provider.revisions[key][name][1].url + self.path
                body = self.rfile.read(int(self.headers.get("content-length", 0))) if method == "POST" else None
                reply = provider.http.request(method, url, content=body, headers={"content-type": "application/json"})
                self.send_response(reply.status_code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

            def do_GET(self):
                self._forward("GET")

            def do_POST(self):
                self._forward("POST")

        return Router


def _key(target: Target, deployment: str) -> str:
    """State is kept per target, so two targets of this provider act like two clouds."""
    return f"{target.name}/{deployment}"


class MemoryPlugin:
    """A throwaway plugin registering a given provider instance."""

    def __init__(self, provider: MemoryProvider) -> None:
        self.provider = provider

    @hookimpl
    def modelport_register_providers(self, register):
        register(self.provider)
