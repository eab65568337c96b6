"""The GCP default (a private service) deploys and gates end to end with google-auth's default
chain (a service-account key file handed out by the emulated Google identity), together with an
API key: a migrate from local (output comparison through both), a canary swap with its version
checks, and ``predict`` all pass; a stranger is refused by Cloud Run (no token), and a caller with
an ID token but no key by the runtime."""

from __future__ import annotations

import httpx
import pytest

import modelport.api as mp
from tests.iris import SAMPLE, version_of
from tests.providers.gcp.helpers import gcp_target, unique, write_project

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


def infer(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{url}/v2/models/iris/infer", json=SAMPLE, headers=headers or {}, timeout=30)


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
    for target in ("cloud", "dev"):
        mp.destroy(name, target, session=session)
