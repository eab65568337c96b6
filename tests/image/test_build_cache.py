"""The build cache: an unchanged model and spec reuse the recorded digest (nothing built or
exported), and every input of the image, changed alone, builds again."""

from __future__ import annotations

import dataclasses
import os
import shutil

import pytest

import modelport.api as mp
from modelport.engine.session import Session
from modelport.image import cache, image
from modelport.state import StateStore

INPUTS = cache.BuildInputs(dockerfile="FROM b\n", base_image_id="sha256:" + "1" * 64, runtime="0.1/sha256:aa",
                           model="model.joblib/sha256:bb", predict="", dependencies="sha256:cc",
                           platform='{"arch": "x86_64"}')


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(cache.BuildInputs)])
def test_each_input_changes_the_key(name):
    changed = dataclasses.replace(INPUTS, **{name: getattr(INPUTS, name) + "x"})
    assert changed.key() != INPUTS.key()
    assert dataclasses.replace(INPUTS).key() == INPUTS.key()


def test_tree_digest_sees_names_and_contents_not_bytecode(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    first = cache.tree_digest(tmp_path)
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert cache.tree_digest(tmp_path) == first, "bytecode is not copied into the image"
    (tmp_path / "pkg" / "a.py").write_text("x = 2\n")
    second = cache.tree_digest(tmp_path)
    assert second != first
    (tmp_path / "pkg" / "a.py").rename(tmp_path / "pkg" / "b.py")
    assert cache.tree_digest(tmp_path) not in (first, second)


def test_resolved_dependencies_are_keyed_by_every_wheel(tmp_path):
    def folder(name: str, wheel: bytes):
        deps = tmp_path / name
        (deps / "wheels").mkdir(parents=True)
        (deps / "requirements.txt").write_text("numpy\n")
        (deps / "wheels" / "numpy-1.26.4-cp311-manylinux.whl").write_bytes(wheel)
        (deps / ".complete").write_text("")
        return deps

    a, same, other = folder("a", b"v1"), folder("same", b"v1"), folder("other", b"v2")
    assert cache.dependencies_digest(a) == cache.dependencies_digest(same)
    assert cache.dependencies_digest(a) != cache.dependencies_digest(other)
    assert (a / ".digest").read_text() == cache.dependencies_digest(a), "kept in the write-once folder"


def _session(tmp_path):
    return Session(state=StateStore(tmp_path / "state.db"))


def _blobs(home):
    return set(os.listdir(home / "oci" / "blobs" / "sha256"))


@pytest.mark.docker
def test_unchanged_inputs_reuse_the_digest_and_each_change_builds(tmp_path, home, project, base_image, monkeypatch,
                                                                  docker_client):
    s = _session(tmp_path)
    first = mp.build(project("iris", "v1"), s)
    assert not first.cached
    blobs = _blobs(home)
    again = mp.build(project("iris", "v1-copy"), s)  # another folder, the same bytes
    assert again.cached and again.digest == first.digest and again.image_id == first.image_id
    assert _blobs(home) == blobs, "a reused build exports nothing"

    not_in_image = mp.build(_with(project("iris", "cpu"), "cpu = 0.5", "cpu = 1"), s)
    assert not_in_image.cached and not_in_image.digest == first.digest, "resources are not in the image"

    model = mp.build(_model_from(project("iris", "model"), "iris-v2"), s)
    assert not model.cached and model.digest != first.digest

    version = mp.build(_with(project("iris", "version"), 'version = "1.0.0"', 'version = "1.0.1"'), s)
    assert not version.cached and version.digest != first.digest

    runtime = tmp_path / "runtime-src"
    shutil.copytree(image.RUNTIME_SRC, runtime, ignore=shutil.ignore_patterns("__pycache__"))
    with (runtime / "__init__.py").open("a") as fh:
        fh.write("\n# a changed runtime\n")
    monkeypatch.setattr(image, "RUNTIME_SRC", runtime)
    changed_runtime = mp.build(project("iris", "runtime"), s)
    assert not changed_runtime.cached and changed_runtime.digest != first.digest
    monkeypatch.setattr(image, "RUNTIME_SRC", cache.Path(image.__file__).resolve().parent.parent / "runtime")
    back = mp.build(project("iris", "back"), s)
    assert back.cached and back.digest == first.digest
    assert docker_client.images.get(back.ref).id == first.image_id, "the tag follows the reused image"


@pytest.mark.docker
def test_a_pruned_store_or_a_moved_base_tag_builds_again(tmp_path, home, project, base_image, docker_client):
    s = _session(tmp_path)
    tag = f"modelport-test-base-{os.urandom(4).hex()}:1"
    base = docker_client.images.get(base_image)
    base.tag(tag)
    try:
        first = mp.build(_with(project("iris", "a"), base_image, tag), s)
        (home / "oci" / "blobs" / "sha256" / first.digest.split(":")[1]).unlink()
        rebuilt = mp.build(_with(project("iris", "b"), base_image, tag), s)
        assert not rebuilt.cached and rebuilt.digest == first.digest, "deterministic: the same image again"

        moved, _logs = docker_client.images.build(fileobj=_dockerfile(base_image), labels={"test": tag}, rm=True)
        moved.tag(tag)  # same reference, another image: the key's base image ID changes
        on_new_base = mp.build(_with(project("iris", "c"), base_image, tag), s)
        assert not on_new_base.cached and on_new_base.digest != first.digest
    finally:
        docker_client.images.remove(tag, force=True)  # the images built on it keep their own IDs


def _dockerfile(base: str):
    import io

    return io.BytesIO(f"FROM {base}\nLABEL moved=yes\n".encode())


def _with(folder, old: str, new: str):
    toml = folder / "modelport.toml"
    text = toml.read_text()
    assert old in text
    toml.write_text(text.replace(old, new, 1))
    return folder


def _model_from(folder, example: str):
    from .conftest import EXAMPLES

    shutil.copy2(EXAMPLES / example / "model.joblib", folder / "model.joblib")
    return folder
