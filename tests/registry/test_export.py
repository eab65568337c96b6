"""export_image against the dev Docker engine, then push and `docker pull` by digest."""

from __future__ import annotations

import gzip
import hashlib
import json
import os

import pytest

from modelport.registry import OciStore, export_image, push
from modelport.registry.mediatypes import OCI_LAYER_GZIP, OCI_MANIFEST

pytestmark = pytest.mark.docker


def _files(model: bytes) -> dict[str, bytes]:
    return {"deps.txt": b"numpy==1.26\n" * 100, "runtime.py": b"print('serve')\n", "model.bin": model}


def test_export_is_deterministic_and_config_is_the_image_id(docker_client, build_image, warm_store, tmp_path):
    tag = build_image(_files(os.urandom(50_000)))
    image = docker_client.images.get(tag)
    first = export_image(docker_client, tag, warm_store)  # base layer from the diff_id cache
    second = export_image(docker_client, tag, OciStore(tmp_path / "fresh"))  # everything compressed anew
    assert first.digest == second.digest
    assert first.config_digest == image.id
    assert [l.diff_id for l in first.layers] == image.attrs["RootFS"]["Layers"]
    assert len(first.layers) == 4  # base + three COPY layers

    store = warm_store
    body, media_type = store.read_manifest(first.digest)
    assert media_type == OCI_MANIFEST
    doc = json.loads(body)
    assert doc["config"]["digest"] == image.id
    assert {l["mediaType"] for l in doc["layers"]} == {OCI_LAYER_GZIP}
    for layer in first.layers:  # each blob gunzips to exactly the layer with that diff_id
        with gzip.open(store.blob_path(layer.digest)) as fh:
            assert "sha256:" + hashlib.file_digest(fh, "sha256").hexdigest() == layer.diff_id
        header = store.blob_path(layer.digest).read_bytes()[:10]
        assert header[4:8] == b"\0\0\0\0" and not header[3] & 0x08  # mtime 0, no file name
    layout = json.loads((store.root / "oci-layout").read_text())
    assert layout == {"imageLayoutVersion": "1.0.0"}
    assert first.digest in [m["digest"] for m in store.manifests()]


def test_model_only_change_writes_one_new_layer(docker_client, build_image, warm_store):
    store = warm_store
    v1 = export_image(docker_client, build_image(_files(b"model-v1" * 1000)), store)
    blobs_before = set(os.listdir(store.root / "blobs" / "sha256"))
    v2 = export_image(docker_client, build_image(_files(b"model-v2" * 1000)), store)
    new_blobs = set(os.listdir(store.root / "blobs" / "sha256")) - blobs_before
    assert v1.digest != v2.digest
    assert [l.digest for l in v1.layers[:-1]] == [l.digest for l in v2.layers[:-1]]
    new_layers = {l.digest.split(":")[1] for l in v2.layers} - {l.digest.split(":")[1] for l in v1.layers}
    assert len(new_layers) == 1
    # the new model layer, the new config, the new manifest: nothing else was written
    assert new_blobs == new_layers | {v2.config_digest.split(":")[1], v2.digest.split(":")[1]}


def test_pushed_image_pulls_by_digest(docker_client, build_image, warm_store, registry_a):
    store = warm_store
    tag = build_image(_files(b"pull me" * 100))
    exported = export_image(docker_client, tag, store)
    result = push(store, exported.digest, f"{registry_a.host}/models/pull:v1")
    assert result.digest == exported.digest
    assert registry_a.manifest_digest("models/pull", "v1") == exported.digest

    ref = f"{registry_a.host}/models/pull@{exported.digest}"
    try:
        pulled = docker_client.images.pull(ref)
        assert pulled.id == exported.config_digest
        assert f"{registry_a.host}/models/pull@{exported.digest}" in pulled.attrs["RepoDigests"]
    finally:
        try:
            docker_client.images.remove(ref)
        except Exception:
            pass


def test_incompressible_layer_is_stored_and_still_deterministic(docker_client, build_image, warm_store):
    tag = build_image({"notes.txt": b"weights for the iris model, version 1\n" * 60_000,
                       "weights.bin": os.urandom(6 << 20)})
    first = export_image(docker_client, tag, warm_store)
    text_layer, weights_layer = first.layers[-2:]
    text_raw = warm_store.cached_layer(text_layer.diff_id)["uncompressed_size"]
    weights_raw = warm_store.cached_layer(weights_layer.diff_id)["uncompressed_size"]
    assert text_layer.size < text_raw / 10  # compressible: deflated
    assert weights_raw <= weights_layer.size < weights_raw * 1.01  # random: stored (gzip level 0)
    with gzip.open(warm_store.blob_path(weights_layer.digest)) as fh:
        assert "sha256:" + hashlib.file_digest(fh, "sha256").hexdigest() == weights_layer.diff_id
    # forget the stored layer and export again: it must be recompressed to the very same blob
    warm_store.blob_path(weights_layer.digest).unlink()
    again = export_image(docker_client, tag, warm_store)
    assert warm_store.has_blob(weights_layer.digest)
    assert again.digest == first.digest
