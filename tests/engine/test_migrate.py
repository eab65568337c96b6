"""Migrate between two targets of the in-memory provider (two 'clouds'): success moves the same
digest and model version; a fault at any step leaves the source serving and nothing on the
destination."""

from __future__ import annotations

import httpx
import pytest

import modelport.api as mp
from modelport.errors import ModelportError

from .conftest import SAMPLE, image, loaded, write_spec


def answer(url: str) -> str:
    return httpx.post(f"{url}/v2/models/demo/infer", json=SAMPLE, timeout=5).json()["outputs"][0]["data"][0]


def test_migrate_moves_the_revision_and_retires_source(memory, tmp_path):
    provider, session = memory
    v1 = write_spec(tmp_path / "v1", "1")
    mp.deploy_image(loaded(v1), "mem", image("1"), session=session)
    # the spec folder now describes version 2, but the deployed revision (version 1) is what moves
    write_spec(tmp_path / "v1", "2")
    result = mp.migrate("demo", "mem", "other", retire_source=True, session=session)
    assert result.outputs["image"]["digest"] == image("1").digest
    assert answer(result.endpoint) == "1"
    assert "mem/demo" not in provider.revisions or not provider.revisions["mem/demo"]
    assert [r["target"] for r in session.state.deployments("demo")] == ["other"]
    ops = [s.op for s in result.plan.steps]
    assert ops.index("compare") < ops.index("record") < ops.index("destroy")


def _steps_of_migrate(provider, session, tmp_path):
    provider.calls.clear()
    mp.migrate("demo", "mem", "other", session=session)
    calls = dict(provider.calls)
    mp.destroy("demo", "other", spec=tmp_path / "v1", session=session)
    return calls


def test_fault_at_every_migrate_step_leaves_source_untouched(memory, tmp_path):
    provider, session = memory
    v1 = write_spec(tmp_path / "v1", "1")
    mp.deploy_image(loaded(v1), "mem", image("1"), session=session)
    calls = _steps_of_migrate(provider, session, tmp_path)
    tried = 0
    for primitive in ("ensure_infrastructure", "create_revision", "health", "set_traffic", "destroy"):
        for n in range(1, calls.get(primitive, 0) + 1):
            provider.calls.clear()
            provider.faults = {primitive: n}
            try:
                mp.migrate("demo", "mem", "other", retire_source=True, session=session)
                completed = True
            except ModelportError:
                completed = False
            finally:
                provider.faults = {}
            tried += 1
            if completed:  # a retried-through or late fault: the destination serves
                assert answer(provider.routers["other/demo"].url) == "1"
                mp.migrate("demo", "other", "mem", retire_source=True, session=session)
                continue
            assert provider.traffic["mem/demo"] == {"r1": 100}, (primitive, n)
            assert answer(provider.routers["mem/demo"].url) == "1"
            assert not provider.revisions.get("other/demo"), (primitive, n)
            assert "other/demo" not in provider.routers, (primitive, n)
    assert tried >= 5


def test_migrate_to_same_target_is_bad_input(memory, tmp_path):
    provider, session = memory
    with pytest.raises(ModelportError) as err:
        mp.migrate("demo", "mem", "mem", session=session)
    assert err.value.exit_code == 2
