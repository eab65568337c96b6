"""Request/response JSON through the official Cloud Run protobuf types.

Bodies are parsed with the same message classes the real front end uses, so a field of the wrong
type or an unknown field is refused exactly like "Invalid JSON payload received". Inside the
emulator resources are canonical dictionaries (camelCase keys, enum names, defaults omitted),
which makes "is this template the same" a plain equality.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from google.cloud import run_v2
from google.iam.v1 import policy_pb2
from google.longrunning import operations_pb2
from google.protobuf import json_format

from .errors import invalid

SERVICE_TYPE = "type.googleapis.com/google.cloud.run.v2.Service"
REVISION_TYPE = "type.googleapis.com/google.cloud.run.v2.Revision"

MESSAGES = {
    "Service": run_v2.Service.pb(),
    "Revision": run_v2.Revision.pb(),
    "ListServicesResponse": run_v2.ListServicesResponse.pb(),
    "ListRevisionsResponse": run_v2.ListRevisionsResponse.pb(),
    "Operation": operations_pb2.Operation,
    "ListOperationsResponse": operations_pb2.ListOperationsResponse,
    "Policy": policy_pb2.Policy,
}


def parse(kind: str, raw: bytes | str | dict, where: str) -> dict:
    """Parse a JSON body as message `kind`; return its canonical dict or raise INVALID_ARGUMENT."""
    message = MESSAGES[kind]()
    try:
        data = json.loads(raw) if isinstance(raw, (bytes, str)) else raw
        json_format.ParseDict(data or {}, message)
    except (ValueError, json_format.ParseError) as exc:
        raise invalid(f"Invalid JSON payload received. {exc}", where) from None
    return canonical(message)


def canonical(message) -> dict:
    """Canonical dict of a protobuf message (camelCase, enum names, no defaults)."""
    return json_format.MessageToDict(message)


def render(kind: str, data: dict, integer_enums: bool = False) -> dict:
    """Normalise `data` through message `kind` for a reply (enums as numbers when asked)."""
    message = MESSAGES[kind]()
    json_format.ParseDict(data, message)
    return json_format.MessageToDict(message, use_integers_for_enums=integer_enums)


def now() -> str:
    """The current time as an RFC 3339 timestamp, as the API prints it."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def duration_seconds(value: str | None) -> float | None:
    """Seconds of a JSON Duration ("300s", "1.5s"), None when unset."""
    if not value:
        return None
    return float(value.rstrip("s"))
