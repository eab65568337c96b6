"""Parse image references: ``host[:port]/repo/path[:tag][@sha256:hex]``.

The registry host is always explicit: modelport never guesses Docker Hub, because every target
names its registry (or a mirror standing in for it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidReference

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class Reference:
    """A parsed reference; ``tag`` and ``digest`` are optional."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repo_ref(self) -> str:
        """``host/repo`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        text = self.repo_ref
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def is_digest(value: str) -> bool:
    """True for a ``sha256:<64 hex>`` digest."""
    return bool(_DIGEST.match(value))


def parse_reference(text: str) -> Reference:
    """Parse ``host[:port]/repo[:tag][@digest]``; raise :class:`InvalidReference` when malformed."""
    rest, digest = text, None
    if "@" in rest:
        rest, digest = rest.rsplit("@", 1)
        if not is_digest(digest):
            # the text before "@" is not echoed: it could be credentials pasted into a reference
            raise InvalidReference(f"invalid digest {digest!r} (expected sha256:<64 hex digits>)",
                                   step="parse reference")
    host, sep, path = rest.partition("/")
    if not sep or not _looks_like_host(host):
        raise InvalidReference(
            f"reference {text!r} must start with a registry host (e.g. 127.0.0.1:5000/repo)",
            step="parse reference",
        )
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
        if not _TAG.match(tag):
            raise InvalidReference(f"invalid tag {tag!r} in {text!r}", step="parse reference")
    if not _REPO.match(path):
        raise InvalidReference(f"invalid repository name {path!r} in {text!r}", step="parse reference")
    return Reference(registry=host, repository=path, tag=tag, digest=digest)


def _looks_like_host(host: str) -> bool:
    return bool(host) and ("." in host or ":" in host or host == "localhost")
