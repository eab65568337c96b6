"""The Python API in this process with every logger at DEBUG: log records, exception messages,
reprs and tracebacks are scanned like CLI output."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import traceback
from typing import Callable, Iterator

from modelport.engine.session import Session
from modelport.plugins import load_providers
from modelport.state import StateStore

from .harness import Leaks


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.stream = io.StringIO()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + "\n")
        except Exception as exc:  # noqa: BLE001 - a record that cannot format is still scanned
            self.stream.write(f"unformattable record {record.name}: {record.msg!r} {exc!r}\n")


@contextlib.contextmanager
def debug_logging(leaks: Leaks, label: str) -> Iterator[None]:
    """Every log record of every library at DEBUG while the block runs, scanned at its end."""
    root = logging.getLogger()
    handler, level = _Capture(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        leaks.scan(f"{label}: python logging at DEBUG", handler.stream.getvalue(), "python logging (DEBUG)")


@contextlib.contextmanager
def user_environment(env: dict[str, str]) -> Iterator[None]:
    """``os.environ`` as the user's (the seeded secrets, home and state), restored afterwards."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def session(env: dict[str, str]) -> Session:
    """A Session on the module's state file with freshly loaded providers."""
    return Session(state=StateStore(env["MODELPORT_STATE"]), providers=load_providers())


def scan_exception(leaks: Leaks, label: str, exc: BaseException) -> None:
    """str, repr, to_dict and the full traceback (with causes) of an exception."""
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    if hasattr(exc, "to_dict"):
        parts.append(repr(exc.to_dict()))
    parts.append(repr(vars(exc)) if hasattr(exc, "__dict__") else "")
    leaks.scan(f"{label}: exception {type(exc).__name__}", "\n".join(parts), "python exceptions")


def expect_error(leaks: Leaks, label: str, call: Callable[[], object]) -> BaseException:
    """Run ``call``, which must raise; scan what it raised."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - every kind is scanned
        scan_exception(leaks, label, exc)
        return exc
    raise AssertionError(f"{label}: expected an error")


def scan_objects(leaks: Leaks, label: str, *objects: object) -> None:
    """repr and str of API objects (sessions, targets, plans, results, auth adapters)."""
    for obj in objects:
        leaks.scan(f"{label}: repr of {type(obj).__name__}", f"{obj!r}\n{obj!s}", "python reprs")
