"""The ``modelport`` executable. ``modelport copy`` is dispatched to a group holding only that
command, without importing the full CLI (the Python API, the engine, every provider plugin and
the state store): a re-copy of an image the destination already has is a few HEAD requests, and
the full CLI's start-up would cost ten times more than that. Everything else runs
:func:`modelport.cli.main`."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the ``modelport`` command line."""
    if sys.argv[1:2] == ["copy"]:
        from .cli_copy import copy_cmd
        from .cli_group import JsonErrorsGroup

        JsonErrorsGroup("modelport", commands={"copy": copy_cmd}).main(prog_name="modelport")
        return
    from .cli import main as full

    full()
