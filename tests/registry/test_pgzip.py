"""The parallel gzip writer: valid single-member gzip that decompresses to the input, with bytes
that depend only on the input and level (never on the thread count), so layer digests are stable."""

from __future__ import annotations

import gzip
import io
import os
import random
import zlib

import pytest

from modelport.registry.pgzip import BLOCK, ParallelGzipWriter


def _compress(data: bytes, workers: int, level: int = 1, step: int = 300_000) -> bytes:
    out = io.BytesIO()
    with ParallelGzipWriter(out, level, workers=workers) as gz:
        for i in range(0, len(data), step):
            gz.write(data[i:i + step])
    return out.getvalue()


def _data(size: int) -> bytes:
    rng = random.Random(size)
    words = [rng.randbytes(rng.randint(3, 12)) for _ in range(500)]  # repetitive: it compresses
    text = b"".join(rng.choice(words) for _ in range(size // 6 + 1))[:size // 2]
    return text + os.urandom(size - len(text))


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + BLOCK // 2])
def test_round_trip_one_member_and_independent_of_threads(size):
    data = _data(size)
    one, four = _compress(data, 1), _compress(data, 4, step=BLOCK // 3)
    assert one == four, "the bytes depend only on the input and the level"
    assert gzip.decompress(one) == data
    unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert unzip.decompress(one) == data and unzip.eof and unzip.unused_data == b"", "a single gzip member"
    assert one[3] == 0 and one[4:8] == b"\0\0\0\0", "no file name, mtime 0"


def test_matches_reach_across_blocks():
    unit = os.urandom(20_000)  # incompressible alone, repeated within deflate's 32 KiB window
    data = (unit * (6 * BLOCK // len(unit) + 1))[:6 * BLOCK]
    # as small as one single-threaded stream; without the primed dictionary each of the 6 blocks
    # would pay for its first 20 kB again (about 100 kB more here)
    assert len(_compress(data, 2, level=6)) < len(zlib.compress(data, 6)) + 5_000
