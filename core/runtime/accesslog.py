"""Structured access logs: one JSON line per request on standard output, and the request id.

A line holds ``time`` (RFC 3339, UTC), ``severity``, ``message``, ``request_id``, ``method``,
``route`` (the route's template, never the path as sent), ``model``, ``version``, ``status``,
``latency_ms`` and ``batch_size`` (requests served by the model call that served this one; null
for routes that call no model). Never a payload, a query string or a header value other than
the request id. Google Cloud Logging reads ``time``, ``severity`` and ``message`` of a JSON line
as the entry's own fields and the rest as its ``jsonPayload``; CloudWatch Logs Insights and Azure
Log Analytics (``parse_json``) read the fields as they are.

The request id is the caller's ``X-Request-Id`` when it is a plain token (letters, digits and
``._:/+=@-``, at most 128 characters), else a new random one; every reply carries it back in
``X-Request-Id``.

Lines are written to file descriptor 1 once per event-loop turn rather than once per request, so
a busy server makes one write for many lines; each write stays within PIPE_BUF, so lines from
several worker processes sharing one pipe never interleave.
"""

from __future__ import annotations

import asyncio
import os
import re
from datetime import datetime, timezone
from typing import Callable

import orjson

REQUEST_ID_HEADER = "x-request-id"
_TOKEN = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}\Z")
_PIPE_BUF = 4096


def request_id(supplied: str | None) -> str:
    """The caller's request id when it is a plain token, else a new random one."""
    if supplied is not None and _TOKEN.match(supplied):
        return supplied
    return os.urandom(16).hex()


def severity(status: int) -> str:
    """Cloud Logging's severity for an HTTP status: ERROR for 5xx, WARNING for 4xx, else INFO."""
    return "ERROR" if status >= 500 else "WARNING" if status >= 400 else "INFO"


def write_fd(fd: int) -> Callable[[bytes], None]:
    """A writer of whole byte strings to ``fd`` (loops over short writes)."""
    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    return write


class AccessLog:
    """Collects access-log lines and writes them once per event-loop turn."""

    def __init__(self, model: str, version: str, write: Callable[[bytes], None] | None = None) -> None:
        self.model, self.version = model, version
        self.write = write or write_fd(1)
        self._lines: list[bytes] = []

    def record(self, *, request_id: str, method: str, route: str, status: int, seconds: float,
               batch_size: int | None) -> None:
        """Queue the line of one answered request (called on the event loop)."""
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = orjson.dumps({
            "time": now, "severity": severity(status), "message": f"{method} {route} {status}",
            "request_id": request_id, "method": method, "route": route, "model": self.model,
            "version": self.version, "status": status, "latency_ms": round(seconds * 1000, 3),
            "batch_size": batch_size,
        }, option=orjson.OPT_APPEND_NEWLINE)
        first = not self._lines
        self._lines.append(line)
        if first:
            _schedule(self.flush)

    def flush(self) -> None:
        """Write the queued lines, in writes of at most PIPE_BUF bytes that end at a line's end."""
        lines, self._lines = self._lines, []
        chunk: list[bytes] = []
        size = 0
        for line in lines:
            if chunk and size + len(line) > _PIPE_BUF:
                self._write(b"".join(chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        if chunk:
            self._write(b"".join(chunk))

    def _write(self, data: bytes) -> None:
        try:
            self.write(data)
        except OSError:
            pass  # a closed or broken stdout must not fail requests; the metrics still count them


def _schedule(flush: Callable[[], None]) -> None:
    try:
        asyncio.get_running_loop().call_soon(flush)
    except RuntimeError:  # no loop (a direct call from a test or a thread): write now
        flush()
