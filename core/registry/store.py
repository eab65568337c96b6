"""A local OCI image-layout store (``oci-layout``, ``index.json``, ``blobs/sha256/…``).

This is where ``build``/export puts an image before it is pushed: content-addressed, so the
manifest digest computed here is the digest every registry will report. Blobs are written to a
temporary file and renamed into place once their digest is known, so a crash never leaves a blob
whose name lies about its content. ``index.json`` updates are serialised with a file lock.

Next to the layout, ``modelport-layers/`` maps a layer's uncompressed digest (diff_id) to its
compressed blob, so re-exporting an image that shares layers does not recompress them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from .errors import ManifestDigestMismatch, RegistryNotFound
from .mediatypes import OCI_MANIFEST
from .reference import is_digest

_LAYOUT = {"imageLayoutVersion": "1.0.0"}
REF_NAME = "org.opencontainers.image.ref.name"


def default_root() -> Path:
    """``$MODELPORT_HOME/oci``, or ``~/.cache/modelport/oci``."""
    home = os.environ.get("MODELPORT_HOME")
    base = Path(home) if home else Path.home() / ".cache" / "modelport"
    return base / "oci"


class BlobWriter:
    """Write a blob incrementally; :meth:`commit` names it by the sha256 of what was written."""

    def __init__(self, store: "OciStore") -> None:
        self._store = store
        fd, name = tempfile.mkstemp(prefix=".tmp-", dir=store.root / "blobs" / "sha256")
        self._file = os.fdopen(fd, "wb")
        self._tmp = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0
        self.digest = ""

    def write(self, data: bytes) -> int:
        """Append bytes (file-like, so gzip can write into it)."""
        self._hash.update(data)
        self.size += len(data)
        return self._file.write(data)

    def flush(self) -> None:
        """File-like no-op flush (data is flushed on commit)."""
        self._file.flush()

    def commit(self) -> str:
        """Close, fsync and move into ``blobs/sha256/<hex>``; return the digest."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self.digest = "sha256:" + self._hash.hexdigest()
        os.replace(self._tmp, self._store.blob_path(self.digest))
        return self.digest

    def discard(self) -> None:
        """Drop the partial blob."""
        self._file.close()
        self._tmp.unlink(missing_ok=True)


class OciStore:
    """An OCI image layout directory; created on first use."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root else default_root()
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.root / "modelport-layers").mkdir(exist_ok=True)
        layout = self.root / "oci-layout"
        if not layout.exists():
            _atomic_write(layout, json.dumps(_LAYOUT).encode())
        if not (self.root / "index.json").exists():
            with self._locked():
                if not (self.root / "index.json").exists():
                    self._write_index({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                       "manifests": []})

    def __repr__(self) -> str:
        return f"OciStore({str(self.root)!r})"

    # ---- blobs ---------------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        """Path of a blob (whether or not it exists)."""
        if not is_digest(digest):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return self.root / "blobs" / "sha256" / digest.split(":", 1)[1]

    def has_blob(self, digest: str) -> bool:
        """Is the blob present?"""
        return self.blob_path(digest).is_file()

    def blob_size(self, digest: str) -> int:
        """Size in bytes of a present blob."""
        return self.blob_path(digest).stat().st_size

    def open_blob(self, digest: str) -> BinaryIO:
        """Open a blob for reading; :class:`RegistryNotFound` if absent."""
        try:
            return open(self.blob_path(digest), "rb")
        except FileNotFoundError:
            raise RegistryNotFound(f"blob {digest} is not in the store", registry=str(self.root),
                                   step="open blob") from None

    def writer(self) -> BlobWriter:
        """A :class:`BlobWriter` for streaming a new blob in."""
        return BlobWriter(self)

    def write_blob(self, data: bytes) -> tuple[str, int]:
        """Store small bytes (configs, manifests); returns ``(digest, size)``."""
        w = self.writer()
        w.write(data)
        return w.commit(), len(data)

    # ---- manifests and index.json --------------------------------------------------------------

    def add_manifest(self, digest: str, media_type: str = OCI_MANIFEST, *, ref_name: str | None = None,
                     annotations: dict | None = None) -> dict:
        """Record a stored manifest in ``index.json`` (once per digest and ref name)."""
        descriptor = {"mediaType": media_type, "digest": digest, "size": self.blob_size(digest)}
        notes = dict(annotations or {})
        if ref_name:
            notes[REF_NAME] = ref_name
        if notes:
            descriptor["annotations"] = notes
        with self._locked():
            index = self._read_index()
            kept = [m for m in index["manifests"]
                    if not (m["digest"] == digest or (ref_name and m.get("annotations", {}).get(REF_NAME) == ref_name))]
            index["manifests"] = kept + [descriptor]
            self._write_index(index)
        return descriptor

    def manifests(self) -> list[dict]:
        """Descriptors listed in ``index.json``."""
        return list(self._read_index()["manifests"])

    def resolve(self, name: str) -> dict:
        """The descriptor for a digest or a ref name in ``index.json``."""
        for m in self.manifests():
            if m["digest"] == name or m.get("annotations", {}).get(REF_NAME) == name:
                return m
        raise RegistryNotFound(f"{name} is not in the store index", registry=str(self.root), step="resolve")

    def read_manifest(self, digest: str, media_type: str | None = None) -> tuple[bytes, str]:
        """Manifest bytes (verified) and media type (given, from index.json, or from the body)."""
        with self.open_blob(digest) as handle:
            body = handle.read()
        actual = "sha256:" + hashlib.sha256(body).hexdigest()
        if actual != digest:
            raise ManifestDigestMismatch("stored manifest", digest, actual, registry=str(self.root),
                                         step="read manifest")
        if not media_type:
            listed = [m for m in self.manifests() if m["digest"] == digest]
            media_type = listed[0]["mediaType"] if listed else json.loads(body).get("mediaType", "")
        return body, media_type

    # ---- layer cache (diff_id -> compressed blob) ----------------------------------------------

    def cached_layer(self, diff_id: str) -> dict | None:
        """``{"digest", "size", "diff_id", "uncompressed_size"}`` if this layer was compressed before
        and its blob is still present."""
        path = self.root / "modelport-layers" / diff_id.replace(":", "-")
        try:
            entry = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return entry if self.has_blob(entry["digest"]) else None

    def remember_layer(self, diff_id: str, digest: str, size: int, uncompressed_size: int) -> None:
        """Record that ``diff_id`` compresses to blob ``digest``."""
        entry = {"diff_id": diff_id, "digest": digest, "size": size, "uncompressed_size": uncompressed_size}
        _atomic_write(self.root / "modelport-layers" / diff_id.replace(":", "-"), json.dumps(entry).encode())

    # ---- internals -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.root / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_index(self) -> dict:
        return json.loads((self.root / "index.json").read_bytes())

    def _write_index(self, index: dict) -> None:
        _atomic_write(self.root / "index.json", json.dumps(index, indent=2).encode())


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
