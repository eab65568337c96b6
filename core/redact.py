"""Secret values this process has read, and their removal from what is shown to people.

modelport hands secret values to their destination only (a cloud's secure field, a registry's
auth header). Anything else that might carry one — an error message quoting a cloud's reply
(some clouds quote the rejected request), a DEBUG log line of a cloud SDK (botocore logs request
parameters) — passes through :func:`redact` first. Values are registered with :func:`remember`
where modelport reads them: client-side secret references, registry passwords and tokens.

Besides each value, its JSON-escaped, URL-encoded and ``repr`` forms are removed, and so is any
run of 8 or more of its leading or trailing characters (a quoted value that was cut short).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from urllib.parse import quote

MASK = "***"
PIECE = 8  # a cut-short copy this long still counts as the secret
_lock = threading.Lock()
_forms: set[str] = set()
_fields: re.Pattern | None = None  # reply fields whose values are secrets (see secret_fields)
_names: set[str] = set()
_installed = False


def remember(*values: str | None) -> None:
    """Register secret values so :func:`redact` (errors, log records) removes them."""
    global _installed
    with _lock:
        for value in values:
            if not value or len(value) < 4:
                continue  # too short to tell apart from ordinary text
            _forms.update(f for f in (value, json.dumps(value)[1:-1], quote(value, safe=""), repr(value)[1:-1]) if f)
        if _forms and not _installed:
            _install_log_filter()
            _installed = True


def secret_fields(*names: str) -> None:
    """Register field names whose values are secrets wherever they appear as ``"name": "value"``
    (JSON or a Python repr): a secret a cloud hands out in a reply (a registry token) reaches an
    SDK's DEBUG log of that reply before modelport can :func:`remember` its value."""
    global _fields, _installed
    with _lock:
        _names.update(names)
        quoted = "|".join(re.escape(n) for n in sorted(_names))
        _fields = re.compile(rf"""(["'](?:{quoted})["']\s*:\s*)(["'])(?:\\.|(?!\2).)*\2""")
        if not _installed:
            _install_log_filter()
            _installed = True


def redact(text: str | None) -> str | None:
    """``text`` with every registered secret (and cut-short copies of it) replaced by ``***``."""
    if text and _fields is not None:
        text = _fields.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}", text)
    if not text or not _forms:
        return text
    forms = sorted(_forms, key=len, reverse=True)
    for form in forms:  # whole copies first, then what is left of cut-short ones
        text = text.replace(form, MASK)
    for form in forms:
        if len(form) > PIECE:
            text = _cut_copies(text, form)
    return text


def _cut_copies(text: str, form: str) -> str:
    """Mask runs of >= PIECE characters that start like ``form`` or end like it."""
    head, tail = form[:PIECE], form[-PIECE:]
    start = text.find(head)
    while start >= 0:
        end = start
        while end < len(text) and end - start < len(form) and text[end] == form[end - start]:
            end += 1
        text = text[:start] + MASK + text[end:]
        start = text.find(head, start + len(MASK))
    end = text.find(tail)
    while end >= 0:
        stop = end + PIECE
        begin = stop
        while begin > 0 and stop - begin < len(form) and text[begin - 1] == form[len(form) - (stop - begin) - 1]:
            begin -= 1
        text = text[:begin] + MASK + text[stop:]
        end = text.find(tail, begin + len(MASK))
    return text


def _install_log_filter() -> None:
    """Redact every log record at creation (any library's logger, any handler), so a DEBUG log
    of a cloud SDK never shows a registered value. Costs nothing for levels that are off: records
    are only created for enabled levels."""
    make = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format is left to logging
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return record

    logging.setLogRecordFactory(factory)
