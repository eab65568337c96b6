"""The build cache: an image is keyed on everything that goes into it, so an unchanged model and
spec reuse the recorded digest without building or exporting anything.

The key is the sha256 of :class:`BuildInputs`: the exact Dockerfile text (it carries the base
image reference, the labels with the model's sha256 and the spec hash, the env and the port), the
base image's ID on the engine (a re-tagged base changes it), the serving runtime's files and
modelport's version, the model and predict files' sha256, and the resolved dependency set (the
requirements file and every wheel's name and sha256). These are the build context's bytes plus
the base, so two builds with one key would hand Docker identical input: that is what makes reuse
safe. A hit is used only while its manifest is still in the OCI store and its image ID still on
the engine; otherwise the image is built again.

Entries live in ``$MODELPORT_HOME/builds/<key>.json``; the platform probed from a base image
(which needs a container run) is cached by the base's ID, which is immutable.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import __version__

KEY_VERSION = 1  # bump when the set of inputs changes, so old entries are never trusted


@dataclass(frozen=True)
class BuildInputs:
    """Everything an image is made from; equal inputs give an identical build context."""

    dockerfile: str
    base_image_id: str
    runtime: str
    model: str
    predict: str
    dependencies: str
    platform: str

    def key(self) -> str:
        """sha256 hex of the inputs (and of the key scheme's version)."""
        data = json.dumps({"v": KEY_VERSION, **asdict(self)}, sort_keys=True).encode()
        return hashlib.sha256(data).hexdigest()


def home() -> Path:
    """``$MODELPORT_HOME`` (default ``~/.cache/modelport``)."""
    env = os.environ.get("MODELPORT_HOME")
    return Path(env) if env else Path.home() / ".cache" / "modelport"


def tree_digest(root: Path, *, ignore: tuple[str, ...] = ("__pycache__",), skip_names: tuple[str, ...] = ()) -> str:
    """sha256 over a folder's file names and contents, in sorted order (ignoring ``ignore``
    folders, ``skip_names`` files and ``*.pyc``, which the build context leaves out too)."""
    digest = hashlib.sha256()
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and p.suffix != ".pyc" and p.name not in skip_names
                   and not set(p.relative_to(root).parts) & set(ignore))
    for file in files:
        digest.update(str(file.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return "sha256:" + digest.hexdigest()


def runtime_digest(runtime_src: Path) -> str:
    """The serving runtime copied into every image, and the modelport version that shipped it."""
    return f"{__version__}/{tree_digest(runtime_src)}"


def dependencies_digest(deps: Path) -> str:
    """The resolved dependency set: ``requirements.txt``, every wheel and pip's own wheel.

    A wheel folder is written once and renamed into place complete (``wheels.download_wheels``),
    so its digest is computed once and kept in it, not re-hashed (tens of MB) on every plan."""
    kept = deps / ".digest"
    try:
        return kept.read_text()
    except FileNotFoundError:
        pass
    digest = tree_digest(deps, skip_names=(".complete", ".digest"))
    _atomic_write(kept, digest)
    return digest


def _entry_path(key: str) -> Path:
    return home() / "builds" / f"{key}.json"


def lookup(key: str) -> dict | None:
    """The recorded build result for ``key``, or None."""
    try:
        return json.loads(_entry_path(key).read_text())
    except (FileNotFoundError, ValueError):
        return None


def record(key: str, result: dict) -> None:
    """Remember ``result`` (a ``BuildResult.to_dict()``) under ``key``, atomically."""
    _atomic_write(_entry_path(key), json.dumps(result, sort_keys=True))


def cached_platform(base_image_id: str) -> dict | None:
    """The platform probed before from the base image with this ID, or None."""
    try:
        return json.loads((home() / "platforms" / base_image_id.replace(":", "-")).read_text())
    except (FileNotFoundError, ValueError):
        return None


def remember_platform(base_image_id: str, platform: dict) -> None:
    """Cache what ``base_image_id`` runs (an image ID names immutable content)."""
    _atomic_write(home() / "platforms" / base_image_id.replace(":", "-"), json.dumps(platform))


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
