"""Credentials that cannot call a private Cloud Run service are refused before anything is built
or touched: ``modelport validate`` (and so deploy's first step) exits 2 naming the credential type
and the fix, and never quotes the credentials file. No Docker, no emulator: nothing is contacted."""

from __future__ import annotations

import json
import secrets

import pytest

import modelport.api as mp
from modelport.errors import SpecErrors
from tests.providers.gcp.helpers import unique, write_project

TARGET = {"provider": "gcp", "project": "modelport-test", "region": "us-central1",
          "api_endpoint": "https://run.invalid", "registry": "registry.invalid/gcp"}


def user_login(refresh_token: str) -> dict:
    """What ``gcloud auth application-default login`` writes (the client is gcloud's ADC client)."""
    return {"type": "authorized_user", "client_id": "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com",
            "client_secret": secrets.token_urlsafe(18), "refresh_token": refresh_token}


def federation() -> dict:
    """A workload identity federation configuration (``gcloud iam workload-identity-pools create-cred-config``)."""
    return {"type": "external_account", "audience": "//iam.googleapis.com/projects/1/locations/global/"
            "workloadIdentityPools/p/providers/q", "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": "https://sts.googleapis.com/v1/token", "credential_source": {"file": "/nonexistent"}}


@pytest.mark.parametrize("kind", ["authorized_user", "external_account"])
def test_credentials_that_mint_no_id_token_are_refused_for_a_private_service(tmp_path, monkeypatch, kind):
    refresh_token = f"1//{secrets.token_urlsafe(30)}"
    info = user_login(refresh_token) if kind == "authorized_user" else federation()
    (tmp_path / "adc.json").write_text(json.dumps(info))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "adc.json"))
    private = write_project(tmp_path / "private", "1", unique("cred"), {"cloud": dict(TARGET)})
    with pytest.raises(SpecErrors) as caught:
        mp.validate(private)
    error = caught.value
    assert error.exit_code == 2
    text = str(error.to_dict())
    assert "targets.cloud.public" in text and kind in text and "--impersonate-service-account" in text
    assert all(value not in text for value in (info.get("client_secret"), info.get("refresh_token")) if value)

    public = write_project(tmp_path / "public", "1", unique("cred"), {"cloud": {**TARGET, "public": True}})
    mp.validate(public)  # a public service needs no identity: the same credentials are fine


def test_a_users_login_in_the_well_known_file_fails_at_the_first_token(tmp_path, monkeypatch):
    """No GOOGLE_APPLICATION_CREDENTIALS, no metadata server, the login ``gcloud auth
    application-default login`` leaves in gcloud's config folder: the first ID token fails with
    one error naming the credentials and the fix (validate cannot know: on a Google machine the
    metadata server would answer first)."""
    import socket

    from modelport.errors import ProviderError
    from modelport_providers.gcp.identity import IdentityTokens

    with socket.socket() as s:  # a port nothing listens on: the metadata server's ping is refused
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    login = user_login(f"1//{secrets.token_urlsafe(30)}")
    (tmp_path / "application_default_credentials.json").write_text(json.dumps(login))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # where gcloud (and google-auth) keep the ADC file
    monkeypatch.setenv("GCE_METADATA_IP", closed)
    with pytest.raises(ProviderError) as caught:
        IdentityTokens().headers("https://iris-abc.a.run.app")
    text = str(caught.value.to_dict())
    assert "authorized_user" in text and "--impersonate-service-account" in text
    assert login["refresh_token"] not in text and login["client_secret"] not in text
