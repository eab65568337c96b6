"""The GCP default (a private service) deploys and gates end to end with google-auth's default
chain (a service-account key file handed out by the emulated Google identity), together with an
API key: a migrate from local (output comparison through both), a canary swap with its version
checks, and ``predict`` all pass; a stranger is refused by Cloud Run (no token), and a caller with
an ID token but no key by the runtime. Then, as on a Google machine with no key file, a gated
rollback and ``predict`` get their tokens from the metadata server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

import modelport.api as mp
from tests.iris import SAMPLE, version_of
from tests.providers.gcp.helpers import gcp_target, unique, write_project

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


def infer(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{url}/v2/models/iris/infer", json=SAMPLE, headers=headers or {}, timeout=30)


def on_a_google_machine(gcp_emulator, name: str, tmp_path) -> dict:
    """``modelport rollback`` (its health gates) then ``predict`` where no key file is named but a
    metadata server answers (a Compute Engine VM or a Cloud Run job): google-auth's default chain
    gets the access token and the ID tokens from it. GCE_METADATA_HOST/GCE_METADATA_IP are
    google-auth's own settings for where it is, read at import, hence fresh processes."""
    host = gcp_emulator.emulator.metadata_server()
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_APPLICATION_CREDENTIALS"}
    env.update(GCE_METADATA_HOST=host, GCE_METADATA_IP=host, MODELPORT_STATE=str(tmp_path / "state.db"))
    request = tmp_path / "request.json"
    request.write_text(json.dumps(SAMPLE))
    before = len(gcp_emulator.emulator.tokens.issued)
    for command in (["rollback", name, "--to", "cloud"],
                    ["predict", name, "--to", "cloud", "--input", str(request), "--output", "json"]):
        proc = subprocess.run([sys.executable, "-m", "modelport", *command], env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
    minted = [t for t in gcp_emulator.emulator.tokens.issued[before:] if t.count(".") == 2]
    assert minted, "the ID token did not come from the metadata server"
    return json.loads(proc.stdout)


def test_private_gcp_with_a_key_passes_every_operation(tmp_path, session, gcp_emulator, registry, monkeypatch,
                                                       api_key, local_cleanup):
    variable, key = api_key
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", gcp_emulator.credentials_file)
    name = unique("acc")
    local_cleanup.append(name)
    cloud = gcp_target(gcp_emulator, registry, credentials="default")
    del cloud["public"]  # the default: private
    targets = {"dev": {"provider": "local"}, "cloud": cloud}
    v1, v2 = (write_project(tmp_path / f"v{v}", v, name, targets) for v in ("1", "2"))
    for project in (v1, v2):
        toml = project / "modelport.toml"
        toml.write_text(toml.read_text() + f'[access]\napi_key = "env:{variable}"\n')

    mp.deploy(v1, "dev", session=session)
    moved = mp.migrate(name, "dev", "cloud", session=session)  # compares outputs on both, each with its headers
    url = moved.endpoint
    token = gcp_emulator.emulator.id_token(url)
    assert infer(url).status_code == 403  # Cloud Run: no identity
    assert infer(url, {"X-API-Key": key}).status_code == 403  # a key is no identity
    no_key = infer(url, {"Authorization": f"Bearer {token}"})  # Cloud Run lets it in; the runtime does not
    assert no_key.status_code == 403 and "API key" in no_key.json()["error"]  # the ID token is not the key
    assert version_of(infer(url, {"Authorization": f"Bearer {token}", "X-API-Key": key}).json()) == "1"

    canary = mp.swap(v2, "cloud", strategy="canary", steps=[50, 100], session=session)  # version checks gate
    assert canary.revision == "r2"
    assert version_of(mp.predict(name, "cloud", SAMPLE, session=session)) == "2"
    assert version_of(on_a_google_machine(gcp_emulator, name, tmp_path)) == "1"  # rolled back, gated
    for target in ("cloud", "dev"):
        mp.destroy(name, target, session=session)
