"""Image steps of a plan: push from the local OCI store, or copy between registries, by digest."""

from __future__ import annotations

import json
import re
import threading
import time
from contextlib import contextmanager

from ..errors import ImageNotFound, ProviderError, UsageError
from ..provider import ImageRef
from .events import TransferFinished, TransferProgress


class _Bytes:
    """A registry progress callback that emits ``transfer.progress`` events, at most one every
    ``every`` seconds (blobs are sent from worker threads, hence the lock)."""

    def __init__(self, emit, action: str, repository: str, deployment: str, every: float = 0.5) -> None:
        self.emit, self.action, self.repository, self.deployment = emit, action, repository, deployment
        self.every = every
        self.done = 0
        self.total = 0
        self._last = 0.0
        self._lock = threading.Lock()

    def __call__(self, ev) -> None:
        with self._lock:
            if ev.kind == "start":
                self.total += ev.size
            elif ev.kind == "bytes":
                self.done += ev.nbytes
            elif ev.kind == "rewind":
                self.done -= ev.nbytes
            now = time.monotonic()
            if ev.kind != "done" and now - self._last < self.every:
                return
            self._last = now
            event = TransferProgress(deployment=self.deployment, action=self.action, repository=self.repository,
                                     done=self.done, total=self.total or None)
        self.emit(event)


class ImageMover:
    """Carries out ``push_image`` / ``copy_image`` steps. Credentials come from the providers at
    execution time; plans only name repositories. Progress goes to ``emit`` as
    ``transfer.progress`` / ``transfer.finished`` events when given (else ``progress_factory``
    draws a bar)."""

    def __init__(self, report=lambda _m: None, progress_factory=None, emit=None) -> None:
        self.report = report
        self.progress_factory = progress_factory
        self.emit = emit

    def _progress(self, title: str, action: str = "", repository: str = "", deployment: str = ""):
        from contextlib import nullcontext

        if self.emit is not None:
            return nullcontext(_Bytes(self.emit, action, repository, deployment))
        return self.progress_factory(title) if self.progress_factory else nullcontext(None)

    @contextmanager
    def _finished(self, action: str, repository: str, deployment: str):
        """Yield a slot for the transfer result; emit ``transfer.finished`` (or report) after it."""
        t0, slot = time.monotonic(), []
        yield slot
        result = slot[0]
        event = TransferFinished(deployment=deployment, action=action, repository=repository,
                                 blobs_sent=result.blobs_sent, bytes_sent=result.bytes_sent,
                                 blobs_skipped=result.blobs_skipped, bytes_skipped=result.bytes_skipped,
                                 duration=round(time.monotonic() - t0, 3))
        if self.emit is not None:
            self.emit(event)
        else:
            self.report(event.text())

    def push(self, binding, deployment: str, digest: str) -> None:
        """Push image ``digest`` from the local OCI store to the registry of ``binding``'s target."""
        from ..registry import OciStore, push

        provider, target = binding
        dest = provider.registry(target, deployment)
        store = OciStore()
        if not store.has_blob(digest):
            if image_present(dest, digest):  # pushed before (e.g. by the machine that was killed): done
                self.report(f"{dest.repository}@{digest[:19]} is already in the registry: nothing to push")
                return
            raise ProviderError(provider.name, "push image", f"{digest} is not in the local image store {store.root}",
                                hint="build the image on this machine first (modelport build)")
        with self._finished("push", dest.repository, deployment) as slot, \
                self._progress(f"push {dest.repository}", "push", dest.repository, deployment) as bar:
            slot.append(push(store, digest, dest.repository, auth=dest.auth, progress=bar))

    def copy(self, binding, source, deployment: str, source_ref: str) -> None:
        """Copy ``source_ref`` from the registry of ``source``'s target to ``binding``'s, by digest."""
        from ..registry import copy

        provider, target = binding
        dest = provider.registry(target, deployment)
        src_provider, src_target = source
        src = src_provider.registry(src_target, deployment)
        with self._finished("copy", dest.repository, deployment) as slot, \
                self._progress(f"copy to {dest.repository}", "copy", dest.repository, deployment) as bar:
            slot.append(copy(source_ref, dest.repository, src_auth=src.auth if src else None,
                             dest_auth=dest.auth, progress=bar))


def image_present(dest, digest: str) -> bool:
    """Read-only: does the registry repository already hold the manifest ``digest``?"""
    from ..registry.client import RegistryClient
    from ..registry.reference import parse_reference

    ref = parse_reference(f"{dest.repository}@{digest}")
    try:
        with RegistryClient(ref.registry, ref.repository, dest.auth) as client:
            return client.manifest_exists(digest)
    except Exception:
        return False


DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def find_image(state, deployment: str, digest: str, *, field: str = "image") -> tuple[ImageRef, str | None]:
    """The image with manifest ``digest``, found from the digest alone (read-only, before anything
    is journaled): a revision of ``deployment`` recorded with it (its registry reference; the
    target it ran on is returned as the source to copy from), else the local image store. Raises
    :class:`UsageError` for a malformed digest and :class:`ImageNotFound` (exit 2) when neither
    holds it."""
    from ..registry import OciStore

    if not DIGEST_RE.match(digest or ""):
        raise UsageError(f"{field}: {digest[:80]!r} is not an image digest",
                         hint="write sha256: and 64 lowercase hex digits, e.g. the digest `modelport build` printed")
    recorded = [r for r in state.revisions(deployment) if r["digest"] == digest and r.get("spec")]
    recorded.sort(key=lambda r: bool(json.loads(r["spec"])["image"].get("ref")))  # a pullable reference last
    if recorded:
        image = json.loads(recorded[-1]["spec"])["image"]
        ref = ImageRef(image["digest"], image["image_id"], image.get("ref"))
        return ref, recorded[-1]["target"] if ref.ref else None
    store = OciStore()
    if store.has_blob(digest):
        body, _media = store.read_manifest(digest)
        return ImageRef(digest, json.loads(body)["config"]["digest"]), None
    raise ImageNotFound(digest, [f"the revisions recorded for {deployment!r}", f"the local image store {store.root}"])
