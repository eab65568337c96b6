"""Where manifests and blobs come from during a transfer: the local OCI store or a registry.

Both sources hand out blob bytes as an iterator of chunks; :func:`verified_chunks` wraps that
iterator so the digest and size are checked while the bytes stream past, and a mismatch is raised
*inside* the upload body — the destination never receives a complete (committable) blob.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from typing import ContextManager, Iterable, Iterator, Protocol

from .client import RegistryClient
from .errors import BlobDigestMismatch, RegistryError
from .progress import ProgressCallback, emit
from .store import OciStore

CHUNK = 1 << 20  # 1 MiB: large enough for throughput, small enough to keep memory flat


class TransferAborted(RegistryError):
    """Another blob of the same transfer failed, so this one stopped early."""


class Source(Protocol):
    """What a transfer reads from."""

    name: str

    def get_manifest(self, digest: str, media_type: str | None) -> tuple[bytes, str]:
        """Manifest bytes (verified against ``digest``) and their media type."""

    def blob_chunks(self, digest: str) -> ContextManager[Iterable[bytes]]:
        """The blob's bytes as chunks (not yet verified)."""


class StoreSource:
    """Read from a local :class:`OciStore`."""

    def __init__(self, store: OciStore) -> None:
        self.store = store
        self.name = f"oci-layout:{store.root}"

    def get_manifest(self, digest: str, media_type: str | None) -> tuple[bytes, str]:
        """Manifest bytes from the store (digest-checked by the store)."""
        return self.store.read_manifest(digest, media_type)

    @contextlib.contextmanager
    def blob_chunks(self, digest: str) -> Iterator[Iterable[bytes]]:
        """File chunks of the blob."""
        with self.store.open_blob(digest) as handle:
            yield iter(lambda: handle.read(CHUNK), b"")


class RegistrySource:
    """Read from a registry repository."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client
        self.name = f"{client.registry}/{client.repository}"

    def get_manifest(self, digest: str, media_type: str | None) -> tuple[bytes, str]:
        """GET the manifest by digest (verified by the client)."""
        body, reported, _ = self.client.get_manifest(digest)
        return body, reported or media_type or ""

    @contextlib.contextmanager
    def blob_chunks(self, digest: str) -> Iterator[Iterable[bytes]]:
        """Streamed GET of the blob."""
        with self.client.open_blob(digest) as response:
            # the transport's reads as they come; a content-encoded reply (not expected for
            # blobs) is decoded so the digest holds
            yield response.iter_bytes()


def verified_chunks(chunks: Iterable[bytes], digest: str, size: int, *, source: str,
                    progress: ProgressCallback | None = None,
                    abort: threading.Event | None = None) -> Iterator[bytes]:
    """Pass chunks through while hashing; raise :class:`BlobDigestMismatch` before the last byte
    leaves if the content is not exactly ``size`` bytes hashing to ``digest``."""
    hasher = hashlib.sha256()
    seen = 0
    pending: bytes | None = None
    for chunk in chunks:
        if abort is not None and abort.is_set():
            raise TransferAborted("stopped because another blob failed", registry=source, step="read blob")
        if not chunk:
            continue
        hasher.update(chunk)
        seen += len(chunk)
        if seen > size:
            raise BlobDigestMismatch("blob", digest, f"more than {size} bytes", registry=source,
                                     step="read blob")
        # Hold back one chunk so a bad digest is detected before the body is complete.
        if pending is not None:
            yield pending
            emit(progress, "bytes", digest, size, len(pending))
        pending = chunk
    actual = "sha256:" + hasher.hexdigest()
    if seen != size or actual != digest:
        shown = actual if seen == size else f"{seen} bytes instead of {size}"
        raise BlobDigestMismatch("blob", digest, shown, registry=source, step="read blob")
    if pending is not None:
        yield pending
        emit(progress, "bytes", digest, size, len(pending))
