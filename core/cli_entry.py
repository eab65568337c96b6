"""The ``modelport`` executable. ``modelport copy`` is dispatched to a group holding only that
command, without importing the full CLI (the Python API, the engine, every provider plugin and
the state store): a re-copy of an image the destination already has is a few HEAD requests, and
the full CLI's start-up would cost ten times more than that. Everything else runs
:func:`modelport.cli.main`."""

from __future__ import annotations

import sys


def _skip_httpx_command_line() -> None:
    """Keep httpx from importing its own command line (``httpx._main``: rich, pygments).

    ``httpx/__init__.py`` imports ``httpx._main`` whenever click is installed (modelport's CLI
    needs click), which costs more CPU than a whole re-copy's requests; modelport never runs the
    ``httpx`` command. A ``None`` entry in ``sys.modules`` makes that import raise ImportError
    (Python's documented behaviour), the fallback httpx itself takes when its CLI's extras are
    missing. Only this executable does it: it owns the process, a library user's process is left
    as it is.
    """
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)


def main() -> None:
    """Run the ``modelport`` command line."""
    _skip_httpx_command_line()
    if sys.argv[1:2] == ["copy"]:
        from .cli_copy import copy_cmd
        from .cli_group import JsonErrorsGroup

        JsonErrorsGroup("modelport", commands={"copy": copy_cmd}).main(prog_name="modelport")
        return
    from .cli import main as full

    full()
