"""Push (local OCI store → registry) and copy (registry → registry) by digest.

Both walk the manifest graph from the source (an index recurses into its child manifests), send
each blob the destination lacks — HEAD first; a cross-repository mount when source and
destination are the same registry; otherwise a streamed, digest-verified upload — and finally PUT
each manifest's original bytes, so the destination digest equals the source digest. A blob that
fails verification aborts the transfer before any manifest is written: nothing is tagged.
Because the destination is asked first, a transfer started again after an interruption only
sends the blobs that are still missing.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from .auth import RegistryAuth
from .client import RegistryClient, new_http_client
from .errors import RegistryProtocolError
from .mediatypes import IMAGE_MANIFESTS, INDEXES
from .progress import ProgressCallback, emit
from .reference import Reference, parse_reference
from .retry import RegistryRetryPolicy
from .sources import RegistrySource, Source, StoreSource, verified_chunks
from .store import OciStore

log = logging.getLogger(__name__)
DEFAULT_CONCURRENCY = 6  # blobs in flight at once (skopeo's default too); memory stays ~40 MB


@dataclass(frozen=True)
class TransferResult:
    """What a push or copy did. ``bytes_skipped`` counts blobs already present or mounted."""

    digest: str
    blobs_sent: int = 0
    blobs_skipped: int = 0
    bytes_sent: int = 0
    bytes_skipped: int = 0
    blobs_mounted: int = 0
    manifests: int = 0
    destination: str = ""

    def to_dict(self) -> dict:
        """Plain data for ``--output json``."""
        return dict(self.__dict__)


def push(store: OciStore, digest: str, dest: str, auth: RegistryAuth | None = None, *,
         progress: ProgressCallback | None = None, retry: RegistryRetryPolicy | None = None,
         concurrency: int = DEFAULT_CONCURRENCY, verify: bool | str = True) -> TransferResult:
    """Push manifest ``digest`` (and everything it references) from ``store`` to
    ``dest`` = ``host[:port]/repo[:tag]``. Without a tag the manifest is stored by digest only."""
    target = _destination(dest)
    with RegistryClient(target.registry, target.repository, auth, push=True, retry=retry,
                        verify=verify) as client:
        job = _Transfer(StoreSource(store), client, progress, concurrency)
        job.manifest(digest, None, target.tag)
        return job.result(digest, str(target))


def copy(src_ref: str, dest_repo: str, *, src_auth: RegistryAuth | None = None,
         dest_auth: RegistryAuth | None = None, progress: ProgressCallback | None = None,
         retry: RegistryRetryPolicy | None = None, concurrency: int = DEFAULT_CONCURRENCY,
         verify: bool | str = True) -> TransferResult:
    """Copy ``host/repo@sha256:…`` (a tag is resolved to its digest first) to
    ``dest_repo`` = ``host[:port]/repo[:tag]``, keeping the digest."""
    src = parse_reference(src_ref)
    target = _destination(dest_repo)
    same_registry = src.registry == target.registry and src.repository != target.repository
    extra = [f"repository:{src.repository}:pull"] if same_registry else []
    # One connection pool for both ends (TLS, and its CA bundle, set up once if either needs it).
    with new_http_client(verify) as http, \
         RegistryClient(src.registry, src.repository, src_auth, retry=retry, http=http) as source, \
         RegistryClient(target.registry, target.repository, dest_auth, push=True, extra_scopes=extra,
                        retry=retry, http=http) as dest:
        digest = src.digest or source.get_manifest(src.tag or "latest")[2]
        job = _Transfer(RegistrySource(source), dest, progress, concurrency,
                        mount_from=src.repository if same_registry else None)
        job.manifest(digest, None, target.tag)
        return job.result(digest, str(target))


def _destination(text: str) -> Reference:
    ref = parse_reference(text)
    if ref.digest:
        raise RegistryProtocolError(f"destination {text!r} must be a repository (optionally :tag), "
                                    "not a digest", step="parse destination")
    return ref


class _Transfer:
    """One transfer's state: counters, the abort flag, and the walk over manifests and blobs."""

    def __init__(self, source: Source, dest: RegistryClient, progress: ProgressCallback | None,
                 concurrency: int, mount_from: str | None = None) -> None:
        self.source = source
        self.dest = dest
        self.progress = progress
        self.concurrency = max(1, concurrency)
        self.mount_from = mount_from
        self.abort = threading.Event()
        self._lock = threading.Lock()
        self._counts = dict(blobs_sent=0, blobs_skipped=0, bytes_sent=0, bytes_skipped=0,
                            blobs_mounted=0, manifests=0)

    def result(self, digest: str, destination: str) -> TransferResult:
        """The counters as a :class:`TransferResult`."""
        return TransferResult(digest=digest, destination=destination, **self._counts)

    def _count(self, **deltas: int) -> None:
        with self._lock:
            for key, value in deltas.items():
                self._counts[key] += value

    def manifest(self, digest: str, media_type: str | None, tag: str | None) -> None:
        """Transfer one manifest's children/blobs, then the manifest itself."""
        body, media_type = self.source.get_manifest(digest, media_type)
        doc = json.loads(body)
        media_type = media_type or doc.get("mediaType", "")
        if media_type in INDEXES:
            for child in doc.get("manifests", []):
                self.manifest(child["digest"], child.get("mediaType"), None)
        elif media_type in IMAGE_MANIFESTS:
            self.blobs([doc["config"], *doc.get("layers", [])])
        else:
            raise RegistryProtocolError(f"unsupported manifest media type {media_type!r} for {digest}",
                                        registry=self.source.name, step="read manifest")
        self.dest.put_manifest(tag or digest, body, media_type)
        self._count(manifests=1)
        log.info("manifest %s written to %s/%s", digest, self.dest.registry, self.dest.repository)

    def blobs(self, descriptors: list[dict]) -> None:
        """Send blobs concurrently; the first failure stops the others and is raised."""
        # largest first: the long uploads start early instead of trailing alone at the end
        unique = sorted({d["digest"]: d for d in descriptors}.values(), key=lambda d: -int(d["size"]))
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(unique)) or 1) as pool:
            futures = [pool.submit(self.blob, d["digest"], int(d["size"])) for d in unique]
            try:
                for future in as_completed(futures):
                    future.result()
            except BaseException:
                self.abort.set()
                for future in futures:
                    future.cancel()
                raise

    def blob(self, digest: str, size: int) -> None:
        """Skip, mount or upload one blob."""
        if self.dest.blob_exists(digest):
            self._count(blobs_skipped=1, bytes_skipped=size)
            emit(self.progress, "skip", digest, size)
            return
        location = None
        if self.mount_from:
            location = self.dest.retrying(lambda: self.dest.start_upload(digest, self.mount_from),
                                          step=f"mount blob {digest}")
            if location is None:
                self._count(blobs_mounted=1, blobs_skipped=1, bytes_skipped=size)
                emit(self.progress, "mount", digest, size)
                return
        emit(self.progress, "start", digest, size)
        session = [location]
        self.dest.retrying(lambda: self._upload(digest, size, session), step=f"upload blob {digest}")
        self._count(blobs_sent=1, bytes_sent=size)
        emit(self.progress, "done", digest, size)

    def _upload(self, digest: str, size: int, session: list) -> None:
        # A session left over from a failed mount attempt is used once; retries start afresh.
        location = session[0] or self.dest.start_upload()
        session[0] = None
        reported = [0]

        def progress(event) -> None:
            reported[0] += event.nbytes
            if self.progress is not None:
                self.progress(event)

        try:
            with self.source.blob_chunks(digest) as chunks:
                body = verified_chunks(chunks, digest, size, source=self.source.name,
                                       progress=progress, abort=self.abort)
                location = self.dest.patch_upload(location, body, size)
            self.dest.finish_upload(location, digest)
        except BaseException:
            self.dest.cancel_upload(location)
            if reported[0]:
                emit(self.progress, "rewind", digest, size, reported[0])
            raise
