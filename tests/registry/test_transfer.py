"""push / copy between two real local registries (synthetic images, no Docker engine needed)."""

from __future__ import annotations

import threading

import pytest

from modelport.registry import BlobDigestMismatch, RegistryRetryPolicy, RegistryUnavailable, copy, push

from .helpers import FlakyFront, blob_sizes, synthetic_image, synthetic_index, upload_requests

MB = 1 << 20
NO_RETRY = RegistryRetryPolicy(attempts=1)


def test_push_then_copy_keeps_digest_and_counts_bytes(store, registry_a, registry_b):
    digest = synthetic_image(store, [3 * MB, 1 * MB, 200_000], seed="push-copy")
    sizes = blob_sizes(store, digest)

    pushed = push(store, digest, f"{registry_a.host}/team/model:v1")
    assert pushed.digest == digest
    assert pushed.blobs_sent == len(sizes) and pushed.bytes_sent == sum(sizes.values())
    assert registry_a.manifest_digest("team/model", "v1") == digest

    copied = copy(f"{registry_a.host}/team/model@{digest}", f"{registry_b.host}/prod/model")
    assert copied.digest == digest
    assert (copied.blobs_sent, copied.bytes_sent, copied.blobs_skipped) == (len(sizes), sum(sizes.values()), 0)
    assert registry_b.has_manifest("prod/model", digest)
    assert registry_b.manifest_digest("prod/model", digest) == digest
    assert registry_b.tags("prod/model") == []  # copied by digest: no tag invented


def test_recopy_sends_zero_blob_bytes(store, registry_a, registry_b, proxy_to):
    digest = synthetic_image(store, [2 * MB, 2 * MB], seed="recopy")
    push(store, digest, f"{registry_a.host}/m")
    proxy = proxy_to(registry_b)
    first = copy(f"{registry_a.host}/m@{digest}", f"{proxy.host}/m:v1")
    assert first.bytes_sent == sum(blob_sizes(store, digest).values())
    assert proxy.sent > first.bytes_sent  # the proxy really sees the blob bytes

    proxy.reset_count()
    log_mark = len(registry_b.requests())
    again = copy(f"{registry_a.host}/m@{digest}", f"{proxy.host}/m:v1")
    assert (again.blobs_sent, again.bytes_sent) == (0, 0)
    assert again.blobs_skipped == len(blob_sizes(store, digest))
    assert proxy.sent < 64 * 1024  # only HEADs and the manifest went over the wire
    assert upload_requests(registry_b, log_mark) == 0


def test_same_registry_copy_mounts_instead_of_uploading(store, registry_a):
    digest = synthetic_image(store, [1 * MB, 500_000], seed="mount")
    push(store, digest, f"{registry_a.host}/src/repo")
    mark = len(registry_a.requests())
    result = copy(f"{registry_a.host}/src/repo@{digest}", f"{registry_a.host}/dst/repo:v2")
    assert result.blobs_mounted == len(blob_sizes(store, digest))
    assert result.bytes_sent == 0
    assert upload_requests(registry_a, mark) == 0
    assert any(m == "POST" and "mount=" in u and s == 201 for m, u, s in registry_a.requests()[mark:])
    assert registry_a.manifest_digest("dst/repo", "v2") == digest


def test_oci_index_keeps_its_digest(store, registry_a, registry_b):
    children = [synthetic_image(store, [300_000], seed=f"arch-{i}") for i in range(2)]
    index = synthetic_index(store, children)
    pushed = push(store, index, f"{registry_a.host}/multi:latest")
    assert pushed.manifests == 3 and registry_a.manifest_digest("multi", "latest") == index

    result = copy(f"{registry_a.host}/multi@{index}", f"{registry_b.host}/multi:latest")
    assert result.digest == index and result.manifests == 3
    assert registry_b.manifest_digest("multi", "latest") == index
    for child in children:
        assert registry_b.has_manifest("multi", child)


def test_corrupted_blob_is_caught_and_nothing_is_tagged(store, registry_a, registry_b):
    digest = synthetic_image(store, [1 * MB, 600_000], seed="corrupt")
    push(store, digest, f"{registry_a.host}/c")
    layer = max(blob_sizes(store, digest).items(), key=lambda kv: kv[1])[0]
    blob_file = registry_a.blob_file(layer)
    data = bytearray(blob_file.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different content
    blob_file.write_bytes(bytes(data))

    with pytest.raises(BlobDigestMismatch) as caught:
        copy(f"{registry_a.host}/c@{digest}", f"{registry_b.host}/c:v1")
    assert caught.value.expected == layer
    assert registry_a.host in str(caught.value)
    assert not registry_b.has_manifest("c", digest)
    assert registry_b.tags("c") == []
    assert not registry_b.blob_file(layer).exists()


def test_corrupted_store_blob_is_caught_on_push(store, registry_a):
    digest = synthetic_image(store, [700_000], seed="corrupt-store")
    layer = [d for d in blob_sizes(store, digest) if blob_sizes(store, digest)[d] == 700_000][0]
    path = store.blob_path(layer)
    path.write_bytes(path.read_bytes()[:-10] + b"x" * 10)
    with pytest.raises(BlobDigestMismatch):
        push(store, digest, f"{registry_a.host}/s:v1")
    assert registry_a.tags("s") == []


def test_interrupted_copy_resumes_sending_only_missing_blobs(store, registry_a, registry_b, proxy_to):
    digest = synthetic_image(store, [1 * MB, 1 * MB, 1 * MB, 4 * MB], seed="interrupt")
    sizes = blob_sizes(store, digest)
    push(store, digest, f"{registry_a.host}/i")
    proxy = proxy_to(registry_b)
    proxy.drop_after = 5 * MB  # small blobs get through, the big one is cut mid-stream

    with pytest.raises(RegistryUnavailable):
        copy(f"{registry_a.host}/i@{digest}", f"{proxy.host}/i:v1", retry=NO_RETRY, concurrency=1)
    assert proxy.drops == 1
    assert not registry_b.has_manifest("i", digest)
    present = {d for d in sizes if registry_b.blob_file(d).exists()}
    missing = set(sizes) - present
    assert present and missing  # interrupted midway, really

    proxy.reset_count()
    resumed = copy(f"{registry_a.host}/i@{digest}", f"{proxy.host}/i:v1", retry=NO_RETRY)
    assert resumed.blobs_skipped == len(present)
    assert resumed.bytes_sent == sum(sizes[d] for d in missing)
    assert proxy.sent < resumed.bytes_sent + 64 * 1024
    assert registry_b.manifest_digest("i", "v1") == digest


def test_connection_reset_mid_blob_is_retried(store, registry_a, registry_b, proxy_to):
    digest = synthetic_image(store, [3 * MB], seed="retry")
    push(store, digest, f"{registry_a.host}/r")
    proxy = proxy_to(registry_b)
    proxy.drop_after = 1 * MB
    events = []
    result = copy(f"{registry_a.host}/r@{digest}", f"{proxy.host}/r:v1", progress=events.append,
                  retry=RegistryRetryPolicy(attempts=4, initial_wait=0.05, max_wait=0.2))
    assert proxy.drops == 1
    assert any(e.kind == "rewind" for e in events)
    net = sum(e.nbytes for e in events if e.kind == "bytes") - sum(e.nbytes for e in events if e.kind == "rewind")
    assert net == result.bytes_sent
    assert result.digest == digest and registry_b.manifest_digest("r", "v1") == digest


def test_progress_events_account_for_every_byte(store, registry_a, registry_b):
    digest = synthetic_image(store, [2 * MB, 100_000], seed="progress")
    push(store, digest, f"{registry_a.host}/p")
    events, lock = [], threading.Lock()

    def record(event):
        with lock:
            events.append(event)

    result = copy(f"{registry_a.host}/p@{digest}", f"{registry_b.host}/p", progress=record)
    sent = sum(e.nbytes for e in events if e.kind == "bytes")
    assert sent == result.bytes_sent
    assert {e.digest for e in events if e.kind == "done"} == set(blob_sizes(store, digest))
    events.clear()
    copy(f"{registry_a.host}/p@{digest}", f"{registry_b.host}/p", progress=record)
    assert {e.kind for e in events} == {"skip"}


@pytest.fixture
def flaky_front():
    fronts = []

    def make(registry, failures):
        front = FlakyFront(registry.host, failures)
        fronts.append(front)
        return front

    yield make
    for front in fronts:
        front.close()


def test_429_and_5xx_are_retried_honouring_retry_after(store, registry_a, flaky_front):
    digest = synthetic_image(store, [200_000], seed="flaky")
    front = flaky_front(registry_a, [(429, "1"), (503, None), (502, None)])
    result = push(store, digest, f"{front.host}/f:v1", retry=RegistryRetryPolicy(attempts=5, initial_wait=0.05))
    assert result.digest == digest
    assert [s for _, s in front.served[:3]] == [429, 503, 502]
    assert registry_a.manifest_digest("f", "v1") == digest


def test_persistent_5xx_gives_a_typed_error_naming_registry_and_step(store, registry_a, flaky_front):
    digest = synthetic_image(store, [1000], seed="down")
    front = flaky_front(registry_a, [(503, None)] * 50)
    with pytest.raises(RegistryUnavailable) as caught:
        push(store, digest, f"{front.host}/d", retry=RegistryRetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.05))
    assert front.host in str(caught.value) and "HTTP 503" in str(caught.value)
    assert "3 attempt" in str(caught.value)
    # each of the two blobs (config, layer) is asked for exactly the policy's 3 attempts
    assert front.served == [("HEAD", 503)] * 6
    assert registry_a.tags("d") == []


def test_memory_stays_bounded_whatever_the_layer_size(store, registry_a, registry_b):
    import tracemalloc

    digest = synthetic_image(store, [48 * MB], seed="big")
    tracemalloc.start()
    try:
        push(store, digest, f"{registry_a.host}/big")
        _, push_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        copy(f"{registry_a.host}/big@{digest}", f"{registry_b.host}/big")
        _, copy_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # a 48 MB layer streams through: Python-side peak is a few 1 MiB chunks, not the layer
    assert push_peak < 12 * MB and copy_peak < 12 * MB


def test_docker_manifest_list_by_tag_keeps_digest_and_media_type(store, registry_a, registry_b):
    import httpx

    children = [synthetic_image(store, [100_000], seed=f"docker-{i}", docker=True) for i in range(2)]
    listing = synthetic_index(store, children, docker=True)
    push(store, listing, f"{registry_a.host}/legacy:stable")
    result = copy(f"{registry_a.host}/legacy:stable", f"{registry_b.host}/legacy:stable")  # tag resolved
    assert result.digest == listing and result.manifests == 3
    assert registry_b.manifest_digest("legacy", "stable") == listing
    reply = httpx.get(f"http://{registry_b.host}/v2/legacy/manifests/{children[0]}",
                      headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert reply.headers["content-type"] == "application/vnd.docker.distribution.manifest.v2+json"
