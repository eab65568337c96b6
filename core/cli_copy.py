"""``modelport copy``: a registry-to-registry copy by digest. It needs no spec, state store or
provider, so it imports only click and the registry client: started again on an image the
destination already has, it answers in about the time of an interpreter start and a few HEAD
requests (see :mod:`modelport.cli_entry`)."""

from __future__ import annotations

import os

import click

from .cli_group import respond


def _bar(output: str, title: str):
    """A progress bar on stderr for people; nothing with ``--output json``."""
    from contextlib import nullcontext

    from .registry import RichProgress
    return nullcontext(None) if output == "json" else RichProgress(title)


def registry_auth(prefix: str):
    """Basic credentials from MODELPORT_<PREFIX>_USERNAME / _PASSWORD (never from arguments,
    which end up in shell history and process lists), else anonymous."""
    from .registry import BasicAuth

    user = os.environ.get(f"MODELPORT_{prefix}_USERNAME")
    password = os.environ.get(f"MODELPORT_{prefix}_PASSWORD")
    return BasicAuth(user, password) if user and password else None


def _transfer_text(result) -> str:
    return (f"{result.destination or 'destination'}@{result.digest}\n  sent {result.blobs_sent} blob(s), "
            f"{result.bytes_sent} bytes; skipped {result.blobs_skipped} already there ({result.bytes_skipped} bytes)")


@click.command("copy")
@click.argument("src_ref")
@click.argument("dest_repo")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one JSON document on stdout, for scripts.")
def copy_cmd(src_ref: str, dest_repo: str, output: str) -> None:
    """Copy SRC_REF (host/repo@sha256:...) to DEST_REPO (host/repo) keeping its digest.

    Credentials: MODELPORT_SRC_USERNAME/_PASSWORD and MODELPORT_DEST_USERNAME/_PASSWORD."""

    def body() -> tuple:
        from .registry import copy

        with _bar(output, "copy") as bar:
            result = copy(src_ref, dest_repo, src_auth=registry_auth("SRC"), dest_auth=registry_auth("DEST"),
                          progress=bar)
        return result.to_dict(), _transfer_text(result)

    respond(output, body)
