"""The Python API refuses what the target cannot do before building, as the CLI does; a digest
alone is enough to deploy an image, and an unknown one is refused before anything is journaled."""

from __future__ import annotations

import pytest

import modelport.api as mp
from modelport.errors import CapabilityError, ImageNotFound, UsageError
from modelport.testing.memory import MemoryProvider

from tests.engine.conftest import image, loaded, memory_session, write_spec


def _no_build(*_args, **_kwargs):
    raise AssertionError("built although the target refuses the operation")


def test_canary_on_a_target_that_cannot_split_is_refused_before_building(tmp_path, monkeypatch):
    monkeypatch.setattr(mp, "_built_image", _no_build)
    with memory_session(tmp_path, MemoryProvider(split=False)) as session:
        spec = write_spec(tmp_path / "v1", "1")
        for call in (lambda: mp.swap(spec, "mem", strategy="canary", steps=[10, 100], session=session),
                     lambda: mp.plan(spec, "mem", strategy="canary", session=session)):
            with pytest.raises(CapabilityError, match="cannot split traffic"):
                call()
        assert session.state.operations("demo") == []


def test_deploy_image_takes_a_digest_alone(memory, tmp_path):
    provider, session = memory
    first = mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "mem", image("1"), session=session)
    ref = mp.image_ref(image("1").digest, "demo", session=session)
    assert (ref.digest, ref.image_id) == (image("1").digest, image("1").image_id)
    again = mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "other", image("1").digest, session=session)
    assert again.status == "succeeded" and again.outputs["image"]["digest"] == first.outputs["image"]["digest"]
    bare = mp.ImageRef(image("1").digest, "")  # an ImageRef that holds the digest alone works too
    same = mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "other", bare, session=session)
    assert same.status == "unchanged"
    ops = len(session.state.operations("demo"))
    with pytest.raises(ImageNotFound) as unknown:
        mp.deploy_image(loaded(write_spec(tmp_path / "v1", "1")), "other", "sha256:" + "1" * 64, session=session)
    assert unknown.value.exit_code == 2 and unknown.value.to_dict()["digest"] == "sha256:" + "1" * 64
    with pytest.raises(UsageError, match="not an image digest"):
        mp.image_ref("latest", "demo", session=session)
    assert len(session.state.operations("demo")) == ops
