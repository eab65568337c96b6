"""Which backend a state URL names (``MODELPORT_STATE`` / ``--state``).

* a path, or ``sqlite:///PATH`` -- a SQLite file (the default: ``~/.local/state/modelport/state.db``)
* ``postgresql://USER@HOST:PORT/DB`` (or ``postgres://``) -- PostgreSQL
* ``s3://BUCKET/PREFIX`` -- objects in S3 (endpoint and credentials: boto3's usual settings)
* ``azblob://ACCOUNT/CONTAINER/PREFIX`` -- blobs in Azure Storage

Any other ``scheme://`` is bad input (exit 2) naming the scheme: before this, such a value
silently became a folder named after the scheme holding a private SQLite file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import UsageError
from .backend import Backend

SCHEMES = ("sqlite", "postgresql", "postgres", "s3", "azblob")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def default_state_url() -> str:
    """``$MODELPORT_STATE``, else ``~/.local/state/modelport/state.db`` (XDG_STATE_HOME honoured)."""
    env = os.environ.get("MODELPORT_STATE")
    if env:
        return env
    base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return str(base / "modelport" / "state.db")


def default_state_path() -> Path:
    """The default state as a path (kept for callers of the SQLite-only days)."""
    return Path(default_state_url())


def scheme_of(url: str) -> str | None:
    """The URL's scheme, or None for a plain path."""
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else None


def check_url(url: str, option: str = "--state") -> str:
    """``url`` if its scheme is known; a UsageError naming the scheme (and ``option``) otherwise."""
    scheme = scheme_of(url)
    if scheme is not None and scheme not in SCHEMES:
        raise UsageError(f"{option}: unknown state backend scheme {scheme!r} in {_shown(url)}",
                         hint="use a path, sqlite:///PATH, postgresql://USER@HOST:PORT/DB, s3://BUCKET/PREFIX "
                              "or azblob://ACCOUNT/CONTAINER/PREFIX")
    return url


def _shown(url: str) -> str:
    from .postgres import without_password
    try:
        return without_password(url)
    except ValueError:
        return url.split("://", 1)[0] + "://..."


def open_backend(url: str | Path | None = None) -> Backend:
    """The backend ``url`` names (default: :func:`default_state_url`)."""
    url = str(url) if url else default_state_url()
    scheme = scheme_of(check_url(url))
    if scheme is None:
        from .sqlite import SqliteBackend
        return SqliteBackend(Path(url))
    if scheme == "sqlite":
        from .sqlite import SqliteBackend
        path = url.split("://", 1)[1]
        if not path.startswith("/") or path.strip("/") == "":
            raise UsageError(f"--state {url}: write sqlite:///ABSOLUTE/PATH (three slashes), or a plain path")
        # sqlite:////abs (SQLAlchemy's spelling of an absolute path) is the same file
        return SqliteBackend(Path("/" + path.lstrip("/")))
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresBackend
        return PostgresBackend(url)
    from .objects import ObjectBackend
    if scheme == "s3":
        from .s3 import S3Bucket
        return ObjectBackend(S3Bucket.from_url(url))
    from .azblob import AzureBucket
    return ObjectBackend(AzureBucket.from_url(url))
