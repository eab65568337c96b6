"""The error answers :class:`moto_fixtures.proxy.InterceptingProxy` sends for ``throttle`` and
``5xx`` faults, in each cloud's real status and shape (what its SDK parses into an error code).

* aws: JSON protocols (``X-Amz-Target``: ECS, Logs, ECR, Application Auto Scaling, Secrets
  Manager) answer ``{"__type": ...}`` with ``x-amzn-ErrorType``; query protocols (ELBv2, IAM,
  Auto Scaling, STS) answer ``<ErrorResponse><Error>``; EC2 answers ``<Response><Errors>``
  (and throttles with 503 ``RequestLimitExceeded``).
* gcp: a ``google.rpc.Status`` JSON body (429 ``RESOURCE_EXHAUSTED``, 503 ``UNAVAILABLE``).
* azure: ARM's ``{"error": {"code", "message"}}`` with ``Retry-After`` (429 ``TooManyRequests``,
  503 ``ServiceUnavailable``).
* generic: plain-text 429 / 503.
"""

from __future__ import annotations

import json
import re
import uuid

FAULTS = ("throttle", "5xx", "timeout", "reset", "lost_reply")
_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")

Reply = tuple[int, list[tuple[str, str]], bytes]


def fault_reply(flavour: str, fault: str, headers: dict) -> Reply:
    """(status, headers, body) of a ``throttle`` or ``5xx`` answer for a request with ``headers``."""
    throttle = fault == "throttle"
    if flavour == "aws":
        return _aws(throttle, {k.lower(): v for k, v in headers.items()})
    if flavour == "gcp":
        status, code, message = ((429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Requests'")
                                 if throttle else (503, "UNAVAILABLE", "The service is currently unavailable."))
        body = {"error": {"code": status, "message": message, "status": code}}
        return status, [("Content-Type", "application/json; charset=UTF-8")], json.dumps(body).encode()
    if flavour == "azure":
        status, code, message = ((429, "TooManyRequests", "The request is being throttled.") if throttle else
                                 (503, "ServiceUnavailable", "The service is temporarily unavailable."))
        body = {"error": {"code": code, "message": message}}
        return status, [("Content-Type", "application/json; charset=utf-8"), ("Retry-After", "1"),
                        ("x-ms-request-id", str(uuid.uuid4()))], json.dumps(body).encode()
    status = 429 if throttle else 503
    return status, [("Content-Type", "text/plain")], f"proxy: injected {fault}".encode()


def _aws(throttle: bool, headers: dict) -> Reply:
    scope = _SCOPE.search(headers.get("authorization", ""))
    service = scope.group(1) if scope else ""
    request_id = str(uuid.uuid4())
    if "x-amz-target" in headers:
        status, code = (400, "ThrottlingException") if throttle else (503, "ServiceUnavailableException")
        body = json.dumps({"__type": code, "message": "Rate exceeded" if throttle else "Service unavailable"})
        return status, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code),
                        ("x-amzn-RequestId", request_id)], body.encode()
    if service == "ec2":
        code = "RequestLimitExceeded" if throttle else "Unavailable"
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code>"
                f"<Message>Request limit exceeded.</Message></Error></Errors><RequestID>{request_id}</RequestID>"
                "</Response>")
        return 503, [("Content-Type", "text/xml;charset=UTF-8")], body.encode()
    status, code = (400, "Throttling") if throttle else (503, "ServiceUnavailable")
    body = (f"<ErrorResponse><Error><Type>{'Sender' if throttle else 'Receiver'}</Type><Code>{code}</Code>"
            f"<Message>{'Rate exceeded' if throttle else 'Service is unavailable'}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>")
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()
