"""Parallel, deterministic gzip (the way pigz does it), for layer blobs.

The input is cut into fixed blocks of ``BLOCK`` bytes; each block is deflated on its own thread
(zlib releases the GIL), primed with the 32 KiB before it as dictionary so matches still reach
back across the cut, and ended with a sync flush so the raw deflate pieces concatenate into one
valid stream (the last one ends it). The gzip header carries no name and mtime 0. The output
depends only on the bytes, the level and ``BLOCK`` -- never on the number of threads or on
timing -- so the same layer always becomes the same blob and the same digest. At most
``2 * workers`` blocks are in flight: memory stays bounded whatever the layer size.

Why not a library: ``pgzip``/``mgzip`` write one gzip member per block without the dictionary
(a larger blob), and ISA-L / zlib-ng bindings pick code paths by CPU, so their bytes -- and
therefore the image digest -- could differ between two machines exporting the same image.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

BLOCK = 1 << 20   # fixed: part of what makes the output deterministic
WINDOW = 32 << 10  # deflate's window: the dictionary each block is primed with
_XFL = {1: 4, 9: 2}  # the gzip header's "extra flags" byte for the fastest/best levels (RFC 1952)


def _deflate(block: bytes, dictionary: bytes, level: int, last: bool) -> bytes:
    """One block as raw deflate, primed with ``dictionary``; sync-flushed unless ``last``."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL,
                                  zlib.Z_DEFAULT_STRATEGY, *([dictionary] if dictionary else []))
    return compressor.compress(block) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


class ParallelGzipWriter:
    """A write-only file: bytes written are gzip-compressed into ``out`` on ``workers`` threads.

    Use as a context manager (or call :meth:`close`): the trailer is written on close.
    """

    def __init__(self, out: BinaryIO, level: int = 6, workers: int | None = None) -> None:
        self.out = out
        self.level = level
        self._pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2,
                                        thread_name_prefix="pgzip")
        self._depth = 2 * self._pool._max_workers
        self._pending: deque[Future] = deque()
        self._buffer = bytearray()
        self._previous_tail = b""
        self._crc = 0
        self._size = 0
        self._closed = False
        out.write(b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + bytes([_XFL.get(level, 0), 255]))

    def write(self, data: bytes) -> int:
        """Compress ``data`` (in order with everything written before)."""
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._buffer += data
        while len(self._buffer) > BLOCK:  # keep one block back: only close() knows which is last
            block = bytes(self._buffer[:BLOCK])
            del self._buffer[:BLOCK]
            self._submit(block, last=False)
        return len(data)

    def _submit(self, block: bytes, last: bool) -> None:
        self._pending.append(self._pool.submit(_deflate, block, self._previous_tail, self.level, last))
        self._previous_tail = block[-WINDOW:]
        while len(self._pending) >= self._depth:
            self.out.write(self._pending.popleft().result())

    def close(self) -> None:
        """Compress what is left, write the trailer (CRC-32 and size mod 2**32)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._submit(bytes(self._buffer), last=True)
            while self._pending:
                self.out.write(self._pending.popleft().result())
            self.out.write(struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF))
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "ParallelGzipWriter":
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:  # the blob is discarded by the caller; just stop the threads
            self._closed = True
            self._pool.shutdown(wait=True, cancel_futures=True)
