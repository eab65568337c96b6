"""pytest fixtures for the shared state backends: the servers (started once per test session by
``scripts/test.sh``, whose env file names them, or here when pytest runs alone) and, per test, a
fresh store on each: its own database and role, bucket, or container.

* ``postgres_admin`` / ``s3_endpoint`` / ``azurite_connection`` -- session servers.
* ``state_factory`` -- ``state_factory(kind)`` makes a :class:`StateTarget` (``url``, ``env``) of
  kind ``sqlite``, ``postgresql``, ``s3`` or ``azblob``, removed after the test.
* ``state_target`` -- one store of the kind the test is parametrized with (``indirect=True``);
  its environment is applied to this process too.
"""

from __future__ import annotations

import os
import re
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

from moto_fixtures.services.statestores import AZURITE_ACCOUNT, AzuriteServer, PostgresServer, S3Server

BACKENDS = ("sqlite", "postgresql", "s3", "azblob")
S3_REGION = "us-east-1"


@dataclass
class StateTarget:
    """One fresh state store: its URL and the environment a user of it has."""

    kind: str
    url: str
    env: dict[str, str] = field(default_factory=dict)
    secret: str | None = None  # a credential the store must never show (the PostgreSQL password)


def _server(env_name: str, cls) -> Iterator[str]:
    value = os.environ.get(env_name)
    if value:
        yield value
        return
    server = cls().start()
    try:
        yield server.env()[env_name]
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[str]:
    """libpq keywords connecting as the superuser of the session's PostgreSQL."""
    yield from _server("MODELPORT_TEST_POSTGRES", PostgresServer)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of the session's moto S3 server."""
    yield from _server("MODELPORT_TEST_S3", S3Server)


@pytest.fixture(scope="session")
def azurite_connection() -> Iterator[str]:
    """The connection string of the session's Azurite (account ``mpstate``)."""
    yield from _server("MODELPORT_TEST_AZURITE", AzuriteServer)


def _postgres(admin: str, cleanups: list) -> StateTarget:
    import psycopg

    name = f"mp_{uuid.uuid4().hex[:12]}"
    password = secrets.token_urlsafe(18)
    port = re.search(r"port=(\d+)", admin).group(1)
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
        db.execute(f"CREATE DATABASE {name} OWNER {name}")

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            db.execute(f"DROP ROLE IF EXISTS {name}")
    cleanups.append(drop)
    return StateTarget("postgresql", f"postgresql://{name}:{password}@127.0.0.1:{port}/{name}", secret=password)


def _s3(endpoint: str, cleanups: list) -> StateTarget:
    import boto3

    bucket = f"mp-state-{uuid.uuid4().hex[:12]}"
    env = {"AWS_ACCESS_KEY_ID": f"MPSTATE{uuid.uuid4().hex[:12].upper()}", "AWS_DEFAULT_REGION": S3_REGION,
           "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30), "AWS_ENDPOINT_URL_S3": endpoint}
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=S3_REGION)
    client.create_bucket(Bucket=bucket)

    def drop() -> None:
        for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []):
            client.delete_object(Bucket=bucket, Key=obj["Key"])
        client.delete_bucket(Bucket=bucket)
    cleanups.append(drop)
    return StateTarget("s3", f"s3://{bucket}/team/state", env, secret=env["AWS_SECRET_ACCESS_KEY"])


def _azblob(connection: str, cleanups: list) -> StateTarget:
    from azure.storage.blob import BlobServiceClient

    container = f"mpstate{uuid.uuid4().hex[:12]}"
    service = BlobServiceClient.from_connection_string(connection)
    service.create_container(container)
    cleanups.append(lambda: service.delete_container(container))
    key = re.search(r"AccountKey=([^;]+)", connection).group(1)
    return StateTarget("azblob", f"azblob://{AZURITE_ACCOUNT}/{container}/team/state",
                       {"AZURE_STORAGE_CONNECTION_STRING": connection}, secret=key)


@pytest.fixture
def state_factory(request, tmp_path: Path) -> Iterator[Callable[[str], StateTarget]]:
    """``make(kind)``: a fresh store of that kind; every one is removed after the test."""
    cleanups: list[Callable[[], None]] = []

    def make(kind: str) -> StateTarget:
        if kind == "sqlite":
            return StateTarget("sqlite", str(tmp_path / f"state-{uuid.uuid4().hex[:6]}.db"))
        if kind == "postgresql":
            return _postgres(request.getfixturevalue("postgres_admin"), cleanups)
        if kind == "s3":
            return _s3(request.getfixturevalue("s3_endpoint"), cleanups)
        if kind == "azblob":
            return _azblob(request.getfixturevalue("azurite_connection"), cleanups)
        raise ValueError(f"unknown state backend {kind!r}")

    try:
        yield make
    finally:
        for cleanup in reversed(cleanups):
            try:
                cleanup()
            except Exception:  # a server already gone: nothing left to remove
                pass


@pytest.fixture
def state_target(request, state_factory, monkeypatch) -> StateTarget:
    """A fresh store of the kind named by the test's parameter; its env set in this process."""
    target = state_factory(getattr(request, "param", "sqlite"))
    for key, value in target.env.items():
        monkeypatch.setenv(key, value)
    return target
