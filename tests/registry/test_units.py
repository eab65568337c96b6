"""Pure pieces: reference parsing, Retry-After, streaming verification, redaction."""

from __future__ import annotations

import hashlib

import pytest

from modelport.registry import BlobDigestMismatch, InvalidReference, OciStore, parse_reference
from modelport.registry.retry import parse_retry_after
from modelport.registry.sources import verified_chunks

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:5000/repo", ("127.0.0.1:5000", "repo", None, None)),
    ("127.0.0.1:5000/a/b/c:v1.2", ("127.0.0.1:5000", "a/b/c", "v1.2", None)),
    (f"123.dkr.ecr.us-east-1.amazonaws.com/m@{DIGEST}", ("123.dkr.ecr.us-east-1.amazonaws.com", "m", None, DIGEST)),
    (f"localhost/x:t@{DIGEST}", ("localhost", "x", "t", DIGEST)),
    ("europe-docker.pkg.dev/proj/repo/img", ("europe-docker.pkg.dev", "proj/repo/img", None, None)),
])
def test_parse_reference(text, expected):
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == expected
    assert str(ref) == text


@pytest.mark.parametrize("text", ["repo", "ubuntu:22.04", "127.0.0.1:5000/UPPER", "h.io/r@sha256:short",
                                  "h.io/r:bad tag", "h.io/"])
def test_parse_reference_rejects(text):
    with pytest.raises(InvalidReference):
        parse_reference(text)


def test_retry_after():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None  # HTTP-date: fall back to backoff
    assert parse_retry_after(None) is None


def _chunks(data: bytes, size: int):
    return [data[i:i + size] for i in range(0, len(data), size)]


def test_verified_chunks_passes_good_content_through():
    data = b"x" * 10_000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert b"".join(verified_chunks(_chunks(data, 3000), digest, len(data), source="s")) == data


def test_verified_chunks_withholds_the_last_chunk_of_bad_content():
    data = b"x" * 10_000
    digest = "sha256:" + hashlib.sha256(b"y" * 10_000).hexdigest()
    passed = []
    with pytest.raises(BlobDigestMismatch):
        for chunk in verified_chunks(_chunks(data, 3000), digest, len(data), source="s"):
            passed.append(chunk)
    assert sum(map(len, passed)) < len(data)  # the receiver never saw a complete body


@pytest.mark.parametrize("actual", [b"x" * 9_999, b"x" * 10_001])
def test_verified_chunks_checks_size(actual):
    digest = "sha256:" + hashlib.sha256(b"x" * 10_000).hexdigest()
    with pytest.raises(BlobDigestMismatch):
        list(verified_chunks(_chunks(actual, 4096), digest, 10_000, source="s"))


def test_store_layout_and_atomic_blobs(tmp_path):
    store = OciStore(tmp_path / "oci")
    digest, size = store.write_blob(b"hello")
    assert digest == "sha256:" + hashlib.sha256(b"hello").hexdigest() and size == 5
    assert store.blob_path(digest).read_bytes() == b"hello"
    assert not [p for p in (store.root / "blobs" / "sha256").iterdir() if p.name.startswith(".tmp")]
    store.add_manifest(digest, ref_name="v1")
    store.add_manifest(digest, ref_name="v1")
    assert len(store.manifests()) == 1 and store.resolve("v1")["digest"] == digest
    assert OciStore(tmp_path / "oci").manifests() == store.manifests()  # reopening keeps the index
