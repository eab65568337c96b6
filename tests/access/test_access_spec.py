"""``[access]`` in the spec: a reference, never a value; refused before anything runs, without
echoing what was written; the key becomes the runtime's MODELPORT_API_KEY secret."""

from __future__ import annotations

import shutil

import pytest

from modelport.engine.access import key_headers, read_api_key
from modelport.engine.revision import revision_spec
from modelport.errors import SpecErrors, UsageError
from modelport.provider import ImageRef
from modelport.spec import load_spec

from tests.local.conftest import EXAMPLES


def project(tmp_path, access: str, extra: str = ""):
    shutil.copytree(EXAMPLES / "iris", tmp_path / "p", ignore=shutil.ignore_patterns("train.py", "__pycache__"))
    spec = tmp_path / "p" / "modelport.toml"
    spec.write_text(spec.read_text() + extra + f"\n[access]\n{access}\n")
    return spec


def errors_of(spec) -> list:
    with pytest.raises(SpecErrors) as info:
        load_spec(spec)
    return info.value.errors


def test_a_pasted_key_is_refused_without_being_echoed(tmp_path):
    [error] = errors_of(project(tmp_path, 'api_key = "sk-live-0123456789abcdef"'))
    assert error.field == "access.api_key" and "secret reference such as 'env:VAR'" in error.reason
    assert "sk-live" not in str(error) and "0123456789" not in str(error)


def test_unknown_access_key_gets_did_you_mean(tmp_path):
    [error] = errors_of(project(tmp_path, 'apikey = "env:X"'))
    assert error.field == "access.apikey" and "api_key" in (error.hint or "")


def test_a_missing_key_file_is_named(tmp_path):
    [error] = errors_of(project(tmp_path, 'api_key = "file:no/such/key"'))
    assert error.field == "access.api_key" and "names no file" in error.reason


def test_the_key_variable_cannot_also_be_set_by_hand(tmp_path):
    [error] = errors_of(project(tmp_path, 'api_key = "env:K"', '\n[secrets]\nMODELPORT_API_KEY = "env:OTHER"\n'))
    assert error.field == "secrets.MODELPORT_API_KEY"


def test_the_key_is_a_runtime_secret_by_reference(tmp_path):
    loaded = load_spec(project(tmp_path, 'api_key = "env:MY_KEY"'))
    rev = revision_spec(loaded.spec, ImageRef("sha256:" + "0" * 64, "sha256:" + "1" * 64), "r1")
    assert rev.secrets["MODELPORT_API_KEY"] == "env:MY_KEY"
    plain = load_spec(project(tmp_path / "b", "")).spec
    assert "MODELPORT_API_KEY" not in revision_spec(plain, rev.image, "r1").secrets


def test_modelport_reads_the_key_it_sends(tmp_path, monkeypatch):
    (tmp_path / "key.txt").write_text("from-a-file-1234\n")
    loaded = load_spec(project(tmp_path, f'api_key = "file:{tmp_path / "key.txt"}"'))
    assert read_api_key(loaded, set()) == "from-a-file-1234"
    cloud = load_spec(project(tmp_path / "c", 'api_key = "vault:projects/p/secrets/k"'))
    monkeypatch.delenv("MODELPORT_API_KEY", raising=False)
    with pytest.raises(UsageError, match="MODELPORT_API_KEY"):
        read_api_key(cloud, {"vault"})
    monkeypatch.setenv("MODELPORT_API_KEY", "from-the-environment")
    assert read_api_key(cloud, {"vault"}) == "from-the-environment"


def test_the_key_moves_aside_for_a_platform_token():
    assert key_headers("k3y-value", {}) == {"Authorization": "Bearer k3y-value"}
    assert key_headers("k3y-value", {"Authorization": "Bearer id-token"}) == {"X-API-Key": "k3y-value"}
