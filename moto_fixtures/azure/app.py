"""The HTTP face of the emulator: ARM routing, authentication and api-version checks.

ARM paths are case-insensitive ('resourcegroups' and 'resourceGroups' are the same), so one
catch-all Starlette route dispatches on case-insensitive regular expressions.
"""
from __future__ import annotations

import json
import re
import uuid

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import ArmError, bad_request
from .apps_model import APPS_API_VERSION
from .service import API_VERSION, ArmService

_SUB = r"^/subscriptions/(?P<sub>[^/]+)"
_RG = _SUB + r"/resourcegroups/(?P<rg>[^/]+)"
_CI = r"/providers/microsoft\.containerinstance"
_CG = _RG + _CI + r"/containergroups/(?P<name>[^/]+)"
_ROUTES = [
    ("PUT", _RG + "$", "put_resource_group", False),
    ("GET", _RG + "$", "get_resource_group", False),
    ("GET", _SUB + _CI + "/containergroups$", "list_groups", True),
    ("GET", _RG + _CI + "/containergroups$", "list_groups", True),
    ("GET", _CG + "$", "get_group", True),
    ("PUT", _CG + "$", "put_group", True),
    ("PATCH", _CG + "$", "patch_group", True),
    ("DELETE", _CG + "$", "delete_group", True),
    ("POST", _CG + "/restart$", "restart_group", True),
    ("POST", _CG + "/stop$", "stop_group", True),
    ("POST", _CG + "/start$", "start_group", True),
    ("GET", _CG + "/containers/(?P<container>[^/]+)/logs$", "container_logs", True),
    ("GET", _SUB + _CI + "/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)$",
     "operation_status", True),
]
# Microsoft.App (Container Apps, api-version 2026-07-01): handlers of ArmService.apps, marked "app"
_APP = r"/providers/microsoft\.app"
_ENV = _RG + _APP + r"/managedenvironments/(?P<name>[^/]+)"
_CA = _RG + _APP + r"/containerapps/(?P<name>[^/]+)"
_REV = _CA + r"/revisions/(?P<revision>[^/]+)"
_ROUTES += [
    ("PUT", _ENV + "$", "apps.put_environment", "app"),
    ("GET", _ENV + "$", "apps.get_environment", "app"),
    ("DELETE", _ENV + "$", "apps.delete_environment", "app"),
    ("GET", _SUB + _APP + "/containerapps$", "apps.list_apps", "app"),
    ("GET", _RG + _APP + "/containerapps$", "apps.list_apps", "app"),
    ("GET", _CA + "$", "apps.get_app", "app"),
    ("PUT", _CA + "$", "apps.put_app", "app"),
    ("PATCH", _CA + "$", "apps.patch_app", "app"),
    ("DELETE", _CA + "$", "apps.delete_app", "app"),
    ("GET", _CA + "/revisions$", "apps.list_revisions", "app"),
    ("GET", _REV + "$", "apps.get_revision", "app"),
    ("POST", _REV + "/deactivate$", "apps.deactivate_revision", "app"),
    ("POST", _REV + "/activate$", "apps.activate_revision", "app"),
    ("GET", _SUB + _APP + r"/locations/(?P<loc>[^/]+)/(?:containerappoperationstatuses|"
     r"managedenvironmentoperationstatuses)/(?P<op>[^/]+)$", "apps.operation_status", "app"),
    ("GET", _SUB + _APP + r"/locations/(?P<loc>[^/]+)/containerappoperationresults/(?P<op>[^/]+)$",
     "apps.operation_result", "app"),
]
_COMPILED = [(m, re.compile(p, re.IGNORECASE), h, ci) for m, p, h, ci in _ROUTES]
_WITH_BODY = {"put_resource_group", "put_group", "patch_group", "apps.put_environment",
              "apps.put_app", "apps.patch_app"}


def _authenticate(request: Request) -> None:
    # ARM requires a bearer token on every request (401 AuthenticationFailed with a
    # WWW-Authenticate challenge, as ARM answers)
    header = request.headers.get("authorization")
    if not header:
        raise ArmError(401, "AuthenticationFailed",
                       "Authentication failed. The 'Authorization' header is missing.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ArmError(401, "AuthenticationFailed", "Authentication failed. The "
                       "'Authorization' header is provided in an invalid format.")


def _check_api_version(request: Request, provider_route: bool) -> None:
    # every ARM request names an api-version; the provider serves the ones it has (400
    # NoRegisteredProviderFound, shared/reference/azure/recordings/test_cli_mgmt_containerinstance...)
    version = request.query_params.get("api-version")
    if not version:
        raise bad_request("MissingApiVersionParameter", "The api-version query parameter "
                          "(?api-version=) is required for all requests.")
    if provider_route == "app":
        # Microsoft.App serves the spec's version (shared/reference/azure-apps/openapi-2026-07-01.json)
        if version != APPS_API_VERSION:
            raise bad_request("NoRegisteredProviderFound",
                              f"No registered resource provider found for API version '{version}' "
                              f"and type 'containerApps'. The supported api-versions are "
                              f"'{APPS_API_VERSION}'.")
        return
    if provider_route and version != API_VERSION:
        raise bad_request("NoRegisteredProviderFound",
                          f"No registered resource provider found for API version '{version}' "
                          f"and type 'containerGroups'. The supported api-versions are "
                          f"'{API_VERSION}'.")


def _match(method: str, path: str):
    allowed = False
    for route_method, pattern, handler, provider in _COMPILED:
        found = pattern.match(path)
        if found:
            if route_method == method:
                return handler, provider, found.groupdict()
            allowed = True
    if allowed:
        raise ArmError(405, "MethodNotAllowed", f"The method '{method}' is not allowed.")
    raise ArmError(404, "InvalidResourceType", f"The resource type of '{path}' could not be "
                   f"found in the namespace 'Microsoft.ContainerInstance' for api version "
                   f"'{API_VERSION}'.")


def _body(raw: bytes):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request("InvalidRequestContent", "The request content was invalid and could "
                          f"not be deserialized: '{exc}'.") from exc


def _arguments(handler: str, params: dict, request: Request, body) -> list:
    order = {"list_groups": ("sub", "rg"), "operation_status": ("sub", "loc", "op"),
             "apps.list_apps": ("sub", "rg"), "apps.operation_status": ("sub", "loc", "op"),
             "apps.operation_result": ("sub", "loc", "op"),
             "apps.get_revision": ("sub", "rg", "name", "revision"),
             "apps.deactivate_revision": ("sub", "rg", "name", "revision"),
             "apps.activate_revision": ("sub", "rg", "name", "revision"),
             "container_logs": ("sub", "rg", "name", "container"),
             "put_resource_group": ("sub", "rg"), "get_resource_group": ("sub", "rg")}
    args = [params.get(k) for k in order.get(handler, ("sub", "rg", "name"))]
    if handler in ("list_groups", "apps.list_apps") and args[1] is None:
        args = args[:1]
    if handler in _WITH_BODY:
        if body is None:
            raise bad_request("InvalidRequestContent", "The request content was invalid and "
                              "could not be deserialized: 'the request body is empty'.")
        args.append(body)
    if handler == "container_logs":
        tail = request.query_params.get("tail")
        args += [int(tail) if tail and tail.lstrip("-").isdigit() else None,
                 request.query_params.get("timestamps", "").lower() == "true"]
    return args


def _handler(service: ArmService, name: str):
    owner, _, method = name.rpartition(".")
    return getattr(service.apps if owner == "apps" else service, method)


def build_app(service: ArmService) -> Starlette:
    """The Starlette application serving ``service``."""

    async def endpoint(request: Request) -> Response:
        headers = {"x-ms-request-id": str(uuid.uuid4())}
        try:
            _authenticate(request)
            handler, provider, params = _match(request.method, request.url.path)
            _check_api_version(request, provider)
            args = _arguments(handler, params, request, _body(await request.body()))
            status, body, extra = await run_in_threadpool(_handler(service, handler), *args)
        except ArmError as exc:
            if exc.status == 401:
                headers["WWW-Authenticate"] = ('Bearer authorization_uri='
                                               '"https://login.windows.net/", '
                                               'error="invalid_token"')
            return JSONResponse(exc.body(), status_code=exc.status, headers=headers)
        headers.update(extra)
        if body is None:
            return Response(status_code=status, headers=headers)
        return JSONResponse(body, status_code=status, headers=headers)

    methods = ["GET", "PUT", "PATCH", "DELETE", "POST"]
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])
