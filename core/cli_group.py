"""The light core of the ``modelport`` command: its click group class and how every command turns
a result or an error into output and an exit code. Imports only click and the error types, so a
command that needs no spec, state or plugin (``modelport copy``) starts in a fraction of the full
CLI's start-up (:mod:`modelport.cli_entry`)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

import click

from .errors import EXIT_BAD_INPUT, EXIT_FAILED, ModelportError


def wants_json(argv: list[str]) -> bool:
    """Whether a command line asks for ``--output json`` (in any spelling click accepts)."""
    return any(a in ("--output=json", "-ojson") or (a in ("--output", "-o") and b == "json")
               for a, b in zip(argv, [*argv[1:], ""]))


class JsonErrorsGroup(click.Group):
    """click's group, except that with ``--output json`` a usage error (unknown option, bad value,
    missing argument) is also one JSON document on stdout, as every other error is."""

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not wants_json(argv) or kwargs.get("standalone_mode") is False:
            return super().main(argv, *rest, **kwargs)
        try:
            return super().main(argv, *rest, **{**kwargs, "standalone_mode": False})
        except click.ClickException as exc:
            click.echo(json.dumps({"error": "UsageError", "message": exc.format_message(),
                                   "exit_code": EXIT_BAD_INPUT}, indent=2))
            exc.show()
            sys.exit(EXIT_BAD_INPUT)
        except click.Abort:
            click.echo(json.dumps({"error": "Interrupted", "message": "interrupted", "exit_code": EXIT_FAILED},
                                  indent=2))
            click.echo("interrupted", err=True)
            sys.exit(EXIT_FAILED)


def respond(output: str, body: Callable[[], tuple]) -> None:
    """Run ``body() -> (data, text[, exit code])`` and print ``text`` or (``json``) ``data``; map
    errors to one line and their exit codes (never a bare traceback for a user)."""
    try:
        data, text, *code = body()
    except ModelportError as exc:
        fail(output, exc.to_dict(), f"error: {exc}", exc.exit_code)
    except KeyboardInterrupt:
        fail(output, {"error": "Interrupted", "message": "interrupted", "exit_code": EXIT_FAILED}, "interrupted",
             EXIT_FAILED)
    except Exception as exc:
        if os.environ.get("MODELPORT_DEBUG"):
            raise
        from .redact import redact

        message = redact(str(exc))  # it may quote something a library was given
        fail(output, {"error": type(exc).__name__, "message": message, "exit_code": EXIT_FAILED},
             f"error: unexpected {type(exc).__name__}: {message} (set MODELPORT_DEBUG=1 for a traceback)",
             EXIT_FAILED)
    if output == "json":
        click.echo(json.dumps(data, indent=2, default=str))
    elif text:
        click.echo(text)
    if code and code[0]:
        sys.exit(code[0])


def fail(output: str, data: dict, text: str, code: int) -> None:
    """Print an error (JSON on stdout too with ``--output json``) and exit with ``code``."""
    if output == "json":
        click.echo(json.dumps(data, indent=2, default=str))
    click.echo(text, err=True)
    sys.exit(code)
