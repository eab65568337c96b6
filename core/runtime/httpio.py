"""The few HTTP pieces the runtime needs: a request, a response, bounded body reading, JSON in/out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from .errors import BadRequest, HeadersTooLarge, PayloadTooLarge, RequestError, UnsupportedMediaType, UriTooLong

JSON_TYPE = "application/json"
_DUMP_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
# The HTTP parser (httptools) has no limit of its own; these are the limits of the cloud load
# balancers in front of the runtime (an AWS ALB reads 16 KiB of request line, 64 KiB of headers),
# so a request within them is never refused here and a hostile one costs nothing further.
MAX_TARGET_BYTES = 16 * 1024
MAX_HEADER_BYTES = 64 * 1024


class ClientGone(Exception):
    """The client disconnected before sending its whole body; nothing is answered."""


@dataclass
class Request:
    """One HTTP request as the handlers see it (header names are lower case)."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    # requests served by the model call that served this one (set when the model is called)
    batch_size: int | None = None

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lower case ('' when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass
class Response:
    """Status, body bytes, content type and extra headers."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def dumps(payload: Any) -> bytes:
    """JSON bytes; numpy arrays inside ``payload`` are written natively by orjson."""
    return orjson.dumps(payload, option=_DUMP_OPTIONS)


def json_response(payload: Any, status: int = 200) -> Response:
    """A JSON response; numpy arrays inside ``payload`` are written natively by orjson."""
    return Response(status, orjson.dumps(payload, option=_DUMP_OPTIONS))


def error_response(error: RequestError) -> Response:
    """The OIP error body ``{"error": "..."}`` with the error's status and headers."""
    return Response(error.status, orjson.dumps({"error": error.message}), headers=dict(error.headers))


def is_json_type(media_type: str) -> bool:
    """JSON bodies: no Content-Type at all, application/json, or any ``+json`` type."""
    return media_type in ("", JSON_TYPE) or media_type.endswith("+json")


def parse_json(request: Request) -> Any:
    """The request body as JSON, after checking its Content-Type; BadRequest when malformed."""
    if not is_json_type(request.media_type):
        raise UnsupportedMediaType(f"Content-Type {request.media_type!r} is not supported here; send application/json")
    return loads(request.body)


def loads(body: bytes) -> Any:
    """Parse JSON; orjson refuses nesting deeper than 1024 levels, which lands here too."""
    if not body:
        raise BadRequest("the request body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}") from None


def check_head(scope: dict) -> None:
    """414 for an over-long path and query, 431 for over-large header fields (before routing)."""
    target = len(scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape"))
    if target + len(scope.get("query_string") or b"") > MAX_TARGET_BYTES:
        raise UriTooLong(f"the request target is longer than {MAX_TARGET_BYTES} bytes")
    if sum(len(name) + len(value) + 4 for name, value in scope["headers"]) > MAX_HEADER_BYTES:
        raise HeadersTooLarge(f"the header fields are larger than {MAX_HEADER_BYTES} bytes")


def header_map(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI header pairs as a dict (latin-1, as HTTP/1.1 says); a repeated header keeps the last."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in raw}


async def read_body(receive: Any, headers: dict[str, str], limit: int) -> bytes:
    """Read the whole body, refusing more than ``limit`` bytes before and while it arrives."""
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest(f"Content-Length {declared!r} is not a number")
        if int(declared) > limit:
            raise PayloadTooLarge(f"the body has {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks) if len(chunks) != 1 else chunks[0]


async def send_response(send: Any, response: Response, head_only: bool = False) -> None:
    """Send ``response`` over ASGI (headers only for HEAD)."""
    headers = [
        (b"content-type", response.content_type.encode("latin-1")),
        (b"content-length", str(len(response.body)).encode("latin-1")),
    ]
    headers.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items())
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head_only else response.body})
