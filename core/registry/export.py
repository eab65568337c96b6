"""Export an image from the local Docker engine into the OCI store as an OCI image manifest.

The engine's ``docker save`` stream (legacy layout: ``manifest.json`` + ``<id>/layer.tar``; the
OCI layout of newer engines works too) is read once, as a stream: each layer is hashed (its
diff_id) and compressed with deterministic gzip (mtime 0, no file name, fixed level) straight
into the store, so memory stays flat whatever the layer size and the same layer always becomes
the same blob. Deflate runs on every core (:mod:`.pgzip`: fixed blocks, so the bytes never depend
on the thread count). A layer whose first 4 MiB do not compress (model weights) is stored at gzip
level 0: still valid gzip, still deterministic, but written at disk speed instead of deflate's.
Layers compressed before are looked up by diff_id and only hashed, so exporting a model-only
change writes exactly one new layer blob. The config blob is the engine's own bytes, so its
digest is the Docker image ID.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import json
import logging
import os
import queue
import tarfile
import threading
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from .errors import ExportError
from .mediatypes import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST
from .pgzip import ParallelGzipWriter
from .store import OciStore

log = logging.getLogger(__name__)
CHUNK = 1 << 20
DEFAULT_COMPRESSLEVEL = 6
PROBE_BYTES = 4 << 20  # the head of each layer, compressed once to decide the level
INCOMPRESSIBLE_RATIO = 0.95


@dataclass(frozen=True)
class ExportedLayer:
    """One layer: compressed blob ``digest``/``size`` and uncompressed ``diff_id``."""

    digest: str
    size: int
    diff_id: str
    media_type: str = OCI_LAYER_GZIP


@dataclass(frozen=True)
class ExportedImage:
    """The stored image: ``digest`` is the manifest digest, the image's identity everywhere."""

    digest: str
    size: int
    media_type: str
    config_digest: str
    layers: list[ExportedLayer] = field(default_factory=list)

    @property
    def image_id(self) -> str:
        """The Docker image ID (equal to the config digest)."""
        return self.config_digest


def export_image(docker_client, image_id_or_ref: str, store: OciStore, *, ref_name: str | None = None,
                 compresslevel: int = DEFAULT_COMPRESSLEVEL) -> ExportedImage:
    """Turn a local Docker image into an OCI image manifest in ``store`` and return it."""
    image = _get_image(docker_client, image_id_or_ref)
    diff_ids = list(image.attrs.get("RootFS", {}).get("Layers", []))
    scan = _scan(image, diff_ids, store, compresslevel, trust_sizes=True)
    if not all(store.cached_layer(d) for d in diff_ids):
        log.info("layer size guess missed for %s; exporting again with full compression", image.id)
        scan = _scan(image, diff_ids, store, compresslevel, trust_sizes=False)
    return _write_manifest(image, diff_ids, scan, store, ref_name)


def _get_image(docker_client, ref: str):
    import docker.errors  # the SDK is a core dependency; imported here to keep module import light

    try:
        return docker_client.images.get(ref)
    except docker.errors.ImageNotFound:
        raise ExportError(f"image {ref!r} not found in the Docker engine", step="export") from None
    except docker.errors.APIError as exc:
        raise ExportError(f"Docker engine error looking up {ref!r}: {exc.explanation}", step="export") from None


@dataclass
class _Scan:
    config: bytes | None = None
    layer_paths: list[str] = field(default_factory=list)
    path_diff_ids: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)


def _scan(image, diff_ids: list[str], store: OciStore, level: int, *, trust_sizes: bool) -> _Scan:
    """Read the save stream once: config bytes, manifest.json, and each layer hashed/compressed."""
    config_hex = image.id.split(":", 1)[1]
    pending_sizes = _cached_sizes(diff_ids, store) if trust_sizes else {}
    scan = _Scan()
    try:
        stream = io.BufferedReader(_IterReader(_prefetch(image.save(chunk_size=CHUNK))), CHUNK)
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                _take(tar, member, scan, config_hex, store, level, pending_sizes)
    except (tarfile.TarError, OSError) as exc:
        raise ExportError(f"could not read the image stream of {image.id}: {exc}", step="docker save") from None
    except Exception as exc:
        if type(exc).__module__.startswith(("docker", "requests", "urllib3")):
            raise ExportError(f"Docker engine failed to save {image.id}: {exc}", step="docker save") from None
        raise
    return scan


def _take(tar, member, scan: _Scan, config_hex: str, store: OciStore, level: int, pending_sizes: dict) -> None:
    name = member.name.lstrip("./")
    base = os.path.basename(name)
    if name == "manifest.json":
        entries = json.loads(tar.extractfile(member).read())
        scan.layer_paths = list(entries[0]["Layers"])
    elif name in (f"{config_hex}.json", f"blobs/sha256/{config_hex}"):
        scan.config = tar.extractfile(member).read()
    elif member.issym() and (base == "layer.tar" or name.startswith("blobs/")):
        scan.links[name] = os.path.normpath(os.path.join(os.path.dirname(name), member.linkname))
    elif member.isfile() and (base == "layer.tar" or name.startswith("blobs/sha256/")):
        scan.path_diff_ids[name] = _ingest_layer(tar.extractfile(member), member.size, store, level,
                                                 pending_sizes)


def _cached_sizes(diff_ids: list[str], store: OciStore) -> dict[int, int]:
    """How many already-compressed layers of this image have each uncompressed size."""
    sizes: dict[int, int] = {}
    for diff_id in set(diff_ids):
        entry = store.cached_layer(diff_id)
        if entry:
            sizes[entry["uncompressed_size"]] = sizes.get(entry["uncompressed_size"], 0) + 1
    return sizes


def _ingest_layer(handle, size: int, store: OciStore, level: int, pending_sizes: dict) -> str:
    """Hash one layer; compress it into the store unless it is (probably) cached already."""
    if pending_sizes.get(size):
        # Same size as a layer compressed before: hash only. If the hash proves the guess wrong,
        # export_image notices the missing blob and runs a second pass without guessing.
        diff_id = _hash_only(handle)
        if store.cached_layer(diff_id):
            pending_sizes[size] -= 1
        return diff_id
    return _compress(handle, store, level)


def _hash_only(handle) -> str:
    hasher = hashlib.sha256()
    for chunk in iter(lambda: handle.read(CHUNK), b""):
        hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def _compress(handle, store: OciStore, level: int) -> str:
    writer = store.writer()
    hasher = hashlib.sha256()
    head = handle.read(PROBE_BYTES)
    level = _level_for(head, level)
    total = 0
    try:
        with _gzip_writer(writer, level) as gz:
            for chunk in itertools.chain([head], iter(lambda: handle.read(CHUNK), b"")):
                hasher.update(chunk)
                gz.write(chunk)
                total += len(chunk)
        diff_id = "sha256:" + hasher.hexdigest()
        cached = store.cached_layer(diff_id)
        if cached:  # another export got there first: keep its blob, drop ours
            writer.discard()
            return diff_id
        digest = writer.commit()
    except BaseException:
        writer.discard()
        raise
    store.remember_layer(diff_id, digest, writer.size, total)
    return diff_id


def _gzip_writer(out, level: int):
    """Deterministic gzip into ``out``: deflated on every core (:mod:`.pgzip`), or, for a stored
    (level 0) layer, the stdlib's single thread, which runs at disk speed there anyway."""
    if level == 0:
        # filename="" and mtime=0 keep the gzip header free of names and times: deterministic.
        return gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=0)
    return ParallelGzipWriter(out, level)


def _level_for(head: bytes, level: int) -> int:
    """Store (level 0) layers whose first bytes do not compress, e.g. model weights.

    deflate gains almost nothing on such data but runs at a few tens of MB/s, so a multi-GB model
    layer would take minutes. The choice depends only on the content, so it stays deterministic.
    """
    if level == 0 or len(head) < PROBE_BYTES // 4:
        return level
    ratio = len(zlib.compress(head, 1)) / len(head)
    return 0 if ratio > INCOMPRESSIBLE_RATIO else level


def _write_manifest(image, diff_ids: list[str], scan: _Scan, store: OciStore, ref_name: str | None) -> ExportedImage:
    if scan.config is None:
        raise ExportError(f"the save stream of {image.id} had no image config", step="export")
    config_digest, config_size = store.write_blob(scan.config)
    if config_digest != image.id:
        raise ExportError(f"config digest {config_digest} differs from image ID {image.id}", step="export")
    resolved = [scan.path_diff_ids.get(scan.links.get(p, p)) for p in scan.layer_paths]
    if resolved != diff_ids:
        raise ExportError(f"layers in the save stream of {image.id} do not match its rootfs", step="export")
    layers = [_layer(store, d) for d in diff_ids]
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": l.media_type, "digest": l.digest, "size": l.size} for l in layers],
    }
    body = json.dumps(manifest, separators=(",", ":")).encode()
    digest, size = store.write_blob(body)
    store.add_manifest(digest, OCI_MANIFEST, ref_name=ref_name,
                       annotations={"io.modelport.image.id": image.id})
    return ExportedImage(digest, size, OCI_MANIFEST, config_digest, layers)


def _layer(store: OciStore, diff_id: str) -> ExportedLayer:
    entry = store.cached_layer(diff_id)
    if entry is None:
        raise ExportError(f"layer {diff_id} was not stored", step="export")
    return ExportedLayer(entry["digest"], entry["size"], diff_id)


def _prefetch(chunks: Iterable[bytes], depth: int = 8) -> Iterator[bytes]:
    """Read ``chunks`` in a background thread, at most ``depth`` ahead.

    A profile of a 673 MB export showed about as much time waiting for the engine's stream as
    compressing it; this lets the two overlap. Memory stays bounded by ``depth`` chunks.
    """
    buffer: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(end)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    threading.Thread(target=pump, name="docker-save-reader", daemon=True).start()
    try:
        while (item := buffer.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class _IterReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (the Docker SDK's save stream)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = memoryview(chunk)
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n
