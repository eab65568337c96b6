"""gcp target settings, registry placement and credential errors (no cloud call)."""

from __future__ import annotations

from pathlib import Path

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


def _project(tmp_path, gcp: dict | None = None, **sections) -> Path:
    """The iris example with a local and a gcp target; ``sections`` replace whole tables."""
    import shutil
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples" / "iris"
    shutil.copy(examples / "model.joblib", tmp_path / "model.joblib")
    tables = {"model": 'name = "iris"\nversion = "1.0.0"\npath = "model.joblib"\nframework = "sklearn"',
              "targets.dev": 'provider = "local"',
              "targets.gcp": "\n".join(f"{k} = {v!r}".replace("'", '"').replace("True", "true")
                                       for k, v in {"provider": "gcp", "project": "my-project",
                                                    "region": "europe-west1", **(gcp or {})}.items()),
              **sections}
    (tmp_path / "modelport.toml").write_text("".join(f"[{t}]\n{body}\n" for t, body in tables.items()))
    return tmp_path


def _refused(tmp_path, **kwargs) -> list:
    import modelport.api as mp
    from modelport.engine.session import Session
    from modelport.errors import SpecErrors
    from modelport.state import StateStore

    with pytest.raises(SpecErrors) as err:
        mp.validate(_project(tmp_path, **kwargs), Session(state=StateStore(tmp_path / "s.db")))
    return err.value.errors


def test_an_arm64_image_is_refused_at_validate_naming_build_platform(tmp_path):
    """Cloud Run runs linux/amd64 images only; the local target next to it could run arm64."""
    from click.testing import CliRunner

    from modelport.cli import main

    [error] = _refused(tmp_path, build='platform = "linux/arm64"')
    assert error.field == "build.platform" and "linux/amd64" in error.reason and "'gcp'" in error.reason
    run = CliRunner().invoke(main, ["--state", str(tmp_path / "s.db"), "validate", str(tmp_path)])
    assert run.exit_code == 2, run.output
    assert "build.platform" in run.output and "Traceback" not in run.output


def test_what_cloud_run_cannot_do_with_scaling_is_refused_at_validate(tmp_path):
    [error] = _refused(tmp_path, resources='cpu = 0.5\nmemory = "512Mi"', scaling="concurrency = 80")
    assert error.field == "scaling.concurrency" and "concurrency 1" in error.reason
    [error] = _refused(tmp_path, gcp={"cpu_always_allocated": True}, resources='cpu = 0.5\nmemory = "512Mi"',
                       scaling="concurrency = 1")
    assert error.field == "targets.gcp.cpu_always_allocated" and "request-based" in error.reason


def test_plan_says_what_each_scaling_key_becomes():
    from dataclasses import replace

    from tests.providers.test_gcp_translate import REV

    shown = GcpProvider().translate(replace(REV, min_instances=0), _target())
    assert shown["scaling.min_instances"].startswith("0 -> template.scaling.min_instance_count = 0 (scales to zero")
    assert shown["scaling.max_instances"].startswith("4 -> template.scaling.max_instance_count = 4")
    assert shown["scaling.concurrency"].startswith("40 -> template.max_instance_request_concurrency = 40")
    assert shown["billing"].startswith("request-based")
    gpu = GcpProvider().translate(replace(REV, size=replace(REV.size, cpu=4, memory_mib=16384, gpu=1)), _target())
    assert gpu["billing"] == "instance-based (CPU always allocated): a GPU needs it"
