"""The HTTP face of the emulator: Cloud Run Admin API v2 REST paths (as the official client's
REST transport calls them), long-running operations and IAM."""

from __future__ import annotations

import base64
import copy
import json
import logging
import re
from urllib.parse import parse_qsl
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import ApiError, invalid, not_found
from .iam import set_policy
from .protojson import parse, render

_SEG = r"[^/:]+"
_LOC = rf"projects/(?P<project>{_SEG})/locations/(?P<location>{_SEG})"
_SVC = rf"{_LOC}/services/(?P<service>{_SEG})"
ROUTES = [  # (method, pattern, handler name)
    ("POST", rf"{_LOC}/services", "create_service"),
    ("GET", rf"{_LOC}/services", "list_services"),
    ("GET", rf"{_SVC}", "get_service"),
    ("PATCH", rf"{_SVC}", "update_service"),
    ("DELETE", rf"{_SVC}", "delete_service"),
    ("GET", rf"{_SVC}:getIamPolicy", "get_iam_policy"),
    ("POST", rf"{_SVC}:setIamPolicy", "set_iam_policy"),
    ("POST", rf"{_SVC}:testIamPermissions", "test_iam_permissions"),
    ("GET", rf"{_SVC}/revisions", "list_revisions"),
    ("GET", rf"{_SVC}/revisions/(?P<revision>{_SEG})", "get_revision"),
    ("DELETE", rf"{_SVC}/revisions/(?P<revision>{_SEG})", "delete_revision"),
    ("GET", rf"{_LOC}/operations", "list_operations"),
    ("GET", rf"{_LOC}/operations/(?P<op>{_SEG})", "get_operation"),
    ("DELETE", rf"{_LOC}/operations/(?P<op>{_SEG})", "delete_operation"),
    ("POST", rf"{_LOC}/operations/(?P<op>{_SEG}):wait", "wait_operation"),
]
LOG = logging.getLogger(__name__)
COMPILED = [(m, re.compile(f"^/v2/{p}$"), h) for m, p, h in ROUTES]


@dataclass
class Call:
    """What a handler needs from the HTTP request."""

    query: object
    body: bytes


def _svc(project: str, location: str, service: str) -> str:
    return f"projects/{project}/locations/{location}/services/{service}"


def _real_location(location: str) -> None:
    """Services live in one region: the "-" wildcard is refused where a region is required."""
    if location == "-":
        raise invalid("Location must be a valid Google Cloud region, and cannot be the '-' "
                      "wildcard.", "parent")


def _flag(call: Call, name: str) -> bool:
    return call.query.get(name, "").lower() in ("true", "1")


def _page(items: list, call: Call) -> tuple[list, str]:
    """Slice `items` by pageSize/pageToken (an opaque offset)."""
    size = int(call.query.get("pageSize") or 0) or 100
    token = call.query.get("pageToken") or ""
    try:
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except ValueError:
        raise invalid("Invalid page token.", "page_token") from None
    end = start + size
    next_token = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else ""
    return items[start:end], next_token


class Api:
    """Dispatches REST calls to the control plane, answering JSON in the API's shapes.

    Each handler named in ROUTES takes the call and the path variables and returns
    (message type used to render the reply, canonical dict).
    """

    def __init__(self, emulator):
        self.em = emulator
        self.app = Starlette(routes=[Route("/token", self.token, methods=["POST"]),
                                     Route("/{path:path}", self.dispatch,
                                           methods=["GET", "POST", "PATCH", "DELETE"])])

    async def token(self, request: Request) -> Response:
        """The OAuth 2.0 token endpoint key files name as ``token_uri`` (tokens.py): a service
        account's signed assertion in, an access token or an ID token out."""
        # RFC 6749 section 4.1.3 / RFC 7523: the request is application/x-www-form-urlencoded
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        status, body = self.em.tokens.exchange(form, self.em.token_uri)
        return JSONResponse(body, status_code=status, headers={"cache-control": "no-store"})

    async def dispatch(self, request: Request) -> Response:
        """Find the handler for method + path and turn ApiError into google.rpc JSON."""
        ints = "enum-encoding=int" in request.query_params.get("$alt", "")
        try:
            for method, pattern, handler in COMPILED:
                match = pattern.match(request.url.path)
                if match and method == request.method:
                    call = Call(request.query_params, await request.body())
                    # Handlers run on worker threads: they may wait for routers this loop starts.
                    kind, body = await run_in_threadpool(getattr(self, handler), call,
                                                         **match.groupdict())
                    return JSONResponse(render(kind, body, ints) if kind else body)
            raise not_found(f"The requested URL {request.url.path} was not found on this server.")
        except ApiError as exc:
            return JSONResponse(exc.http_body(), status_code=exc.http_status)
        except Exception:  # noqa: BLE001 - answered as INTERNAL like the real front end
            LOG.exception("internal error answering %s %s", request.method, request.url.path)
            error = ApiError("INTERNAL", "Internal error in the Cloud Run emulator.")
            return JSONResponse(error.http_body(), status_code=500)

    # -- services ------------------------------------------------------------------------
    def create_service(self, call, project, location):
        _real_location(location)
        service_id = call.query.get("serviceId", "")
        body = parse("Service", call.body, "service")
        parent = f"projects/{project}/locations/{location}"
        op = self.em.control.create(parent, service_id, body, _flag(call, "validateOnly"))
        return "Operation", op

    def list_services(self, call, project, location):
        _real_location(location)
        items = self.em.control.list(f"projects/{project}/locations/{location}")
        page, token = _page(items, call)
        return "ListServicesResponse", {"services": page, "nextPageToken": token}

    def get_service(self, call, project, location, service):
        return "Service", self.em.control.get(_svc(project, location, service))

    def update_service(self, call, project, location, service):
        body = parse("Service", call.body, "service")
        name = _svc(project, location, service)
        mask = [p for p in call.query.get("updateMask", "").split(",") if p]
        op = self.em.control.update(name, body, mask, _flag(call, "allowMissing"),
                                    _flag(call, "validateOnly"))
        return "Operation", op

    def delete_service(self, call, project, location, service):
        name = _svc(project, location, service)
        op = self.em.control.delete(name, call.query.get("etag"),
                                    _flag(call, "validateOnly"))
        return "Operation", op

    # -- IAM -----------------------------------------------------------------------------
    def get_iam_policy(self, call, project, location, service):
        record = self.em.control.record(_svc(project, location, service))
        return "Policy", copy.deepcopy(record.policy)

    def set_iam_policy(self, call, project, location, service):
        raw = json.loads(call.body or b"{}")
        policy = parse("Policy", raw.get("policy") or {}, "policy")
        with self.em.store.lock:
            record = self.em.control.record(_svc(project, location, service))
            record.policy = set_policy(record.policy, policy)
            return "Policy", copy.deepcopy(record.policy)

    def test_iam_permissions(self, call, project, location, service):
        self.em.control.record(_svc(project, location, service))
        raw = json.loads(call.body or b"{}")
        return None, {"permissions": list(raw.get("permissions", []))}

    # -- revisions -----------------------------------------------------------------------
    def list_revisions(self, call, project, location, service):
        items = self.em.revisions.list(_svc(project, location, service))
        page, token = _page(items, call)
        return "ListRevisionsResponse", {"revisions": page, "nextPageToken": token}

    def get_revision(self, call, project, location, service, revision):
        name = f"projects/{project}/locations/{location}/services/{service}/revisions/{revision}"
        return "Revision", self.em.revisions.get(name)

    def delete_revision(self, call, project, location, service, revision):
        name = f"projects/{project}/locations/{location}/services/{service}/revisions/{revision}"
        op = self.em.revisions.delete(name, call.query.get("etag"),
                                      _flag(call, "validateOnly"))
        return "Operation", op

    # -- operations ----------------------------------------------------------------------
    def _operation(self, project, location, op) -> dict:
        name = f"projects/{project}/locations/{location}/operations/{op}"
        with self.em.store.lock:
            if name not in self.em.store.operations:
                raise not_found(f"Operation '{name}' was not found.")
            return copy.deepcopy(self.em.store.operations[name])

    def get_operation(self, call, project, location, op):
        return "Operation", self._operation(project, location, op)

    def list_operations(self, call, project, location):
        prefix = f"projects/{project}/locations/{location}/operations/"
        with self.em.store.lock:
            ops = [copy.deepcopy(o) for n, o in self.em.store.operations.items()
                   if n.startswith(prefix)]
        page, token = _page(ops, call)
        return "ListOperationsResponse", {"operations": page, "nextPageToken": token}

    def delete_operation(self, call, project, location, op):
        name = self._operation(project, location, op)["name"]
        with self.em.store.lock:
            self.em.store.operations.pop(name, None)
        return None, {}

    def wait_operation(self, call, project, location, op):
        raw = json.loads(call.body or b"{}")
        timeout = float(str(raw.get("timeout", "60s")).rstrip("s"))
        name = f"projects/{project}/locations/{location}/operations/{op}"
        self._operation(project, location, op)

        def wait() -> None:
            with self.em.store.done:
                self.em.store.done.wait_for(
                    lambda: self.em.store.operations.get(name, {}).get("done", True), timeout)

        wait()
        return "Operation", self._operation(project, location, op)
