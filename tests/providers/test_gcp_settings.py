"""gcp target settings, registry placement and credential errors (no cloud call)."""

from __future__ import annotations

import pytest

from modelport.errors import ProviderError
from modelport.provider import Target
from modelport_providers.gcp.artifact_auth import GcpAuth
from modelport_providers.gcp.provider import GcpProvider
from modelport_providers.gcp.settings import GcpSettings


def _target(**settings) -> Target:
    return Target("prod", "gcp", GcpSettings(project="my-project", region="europe-west1", **settings))


def test_registry_override_replaces_artifact_registry():
    placed = GcpProvider().registry(_target(registry="127.0.0.1:5000/models/"), "iris")
    assert (placed.repository, placed.auth) == ("127.0.0.1:5000/models/iris", None)
    assert GcpProvider().infrastructure_plan(_target(registry="127.0.0.1:5000/models"), "iris", None) == []


def test_artifact_registry_path_per_region_project_repository():
    anonymous = _target(api_endpoint="http://127.0.0.1:1", credentials="anonymous", repository="models")
    assert GcpProvider().registry(anonymous, "iris").repository == "europe-west1-docker.pkg.dev/my-project/models/iris"


def test_missing_application_default_credentials_is_a_provider_error(monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(ProviderError) as err:
        GcpProvider().registry(_target(), "iris")
    assert "gcloud auth application-default login" in err.value.hint
    assert "credentials = \"anonymous\"" in err.value.hint


def test_service_account_key_gives_artifact_registry_auth(monkeypatch, tmp_path):
    """With ADC from a key file the registry is authenticated with GcpAuth (no token fetched yet)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    import json
    path = tmp_path / "sa.json"
    path.write_text(json.dumps({"type": "service_account", "project_id": "my-project", "private_key_id": "1",
                                "private_key": key, "client_email": "sa@my-project.iam.gserviceaccount.com",
                                "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    placed = GcpProvider().registry(_target(), "iris")
    assert placed.repository == "europe-west1-docker.pkg.dev/my-project/modelport/iris"
    assert isinstance(placed.auth, GcpAuth) and "PRIVATE" not in repr(placed)


@pytest.mark.parametrize("settings,field", [
    ({"project": "X", "region": "us-central1"}, "project"),
    ({"project": "my-project", "region": "mars"}, "region"),
    ({"project": "my-project", "region": "us-central1", "ingress": "everyone"}, "ingress"),
    ({"project": "my-project", "region": "us-central1", "registry": "http://x/y"}, "registry"),
    ({"project": "my-project", "region": "us-central1", "zone": "a"}, "zone"),
])
def test_bad_settings_are_refused(settings, field):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as err:
        GcpSettings(**settings)
    assert field in str(err.value)
