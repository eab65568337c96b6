"""No secret in any state backend (issue 18): the local flow (deploy, status, history, a swap
whose gate fails, ``state migrate``, destroy) with the state on PostgreSQL, S3 and Azure Blob.
Scanned: every command's output (library logs at DEBUG), and every byte the store holds (each
table's rows, each object, each blob), for the spec's ``env:``/``file:`` secrets and for the
store's own credential (the PostgreSQL password in the URL, the S3 secret key, the storage
account key), which must not appear in output or errors either, also when it is wrong."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from .harness import Cli, Leaks, make_project, remove_containers, scan_state, scan_tree
from .seeds import Scanner, Secret

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


def _store_bytes(target, request) -> list[tuple[str, bytes]]:
    """Everything the store holds, as (place, bytes)."""
    if target.kind == "postgresql":
        import psycopg

        admin = request.getfixturevalue("postgres_admin")
        db = target.url.rsplit("/", 1)[1]
        out = []
        with psycopg.connect(re.sub(r"dbname=\S+", f"dbname={db}", admin)) as conn:
            tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")]
            for table in tables:
                rows = conn.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 (names from the catalog)
                out.append((f"postgresql table {table}", json.dumps(rows, default=str).encode()))
        return out
    if target.kind == "s3":
        import boto3

        client = boto3.client("s3", endpoint_url=target.env["AWS_ENDPOINT_URL_S3"])
        bucket = target.url.split("/")[2]
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
        return [(f"s3 object {k}", client.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(target.env["AZURE_STORAGE_CONNECTION_STRING"])
    container = service.get_container_client(target.url.split("/")[3])
    return [(f"blob {n}", container.download_blob(n).readall()) for n in container.list_blob_names()]


@pytest.mark.parametrize("state_target", ["postgresql", "s3", "azblob"], indirect=True)
def test_no_secret_in_a_shared_state_store(state_target, seeds, scan_home, tmp_path, docker_host, docker_client,
                                           user_env, request, monkeypatch):
    credential = Secret(f"{state_target.kind} state credential", state_target.secret)
    leaks = Leaks(Scanner([*seeds.values(), credential]))
    env = {**user_env, **state_target.env, "MODELPORT_STATE": state_target.url}
    for key in state_target.env:  # this process's own view of the store (the scan below) needs it
        monkeypatch.setenv(key, state_target.env[key])
    cli = Cli(leaks, env, tmp_path)
    name = f"secstate{state_target.kind[:2]}{tmp_path.name[-4:].replace('_', '')}".lower()
    targets = {"dev": {"provider": "local"}}
    v1 = make_project(tmp_path / "v1", seeds, name, targets)
    broken = make_project(tmp_path / "gate", seeds, name, targets, shape=[7])
    try:
        assert cli.json("deploy", str(v1), "--to", "dev")["status"] == "succeeded"
        cli("status", name)
        cli.json("history", name)
        cli("swap", str(broken), "--to", "dev", ok=False)  # a failed gate: its error is journaled
        cli.json("history", name)
        copy = tmp_path / "copy.db"
        cli("state", "migrate", "--to", str(copy))
        cli("destroy", name, "--to", "dev")
    finally:
        remove_containers(docker_client, name)
    for place, data in _store_bytes(state_target, request):
        leaks.scan(place, data, f"{state_target.kind} store")
    if state_target.kind == "postgresql":  # and the cluster's files: tables, WAL, free space
        cluster = Path(re.search(r"host=(\S+)", request.getfixturevalue("postgres_admin")).group(1)) / "data"
        scan_tree(leaks, cluster, "postgresql cluster files")
    scan_state(leaks, copy)
    if state_target.kind == "postgresql":  # a wrong password: the error names the store, never the value
        wrong = state_target.url.replace(f":{state_target.secret}@",
                                         f":{quote(seeds['wrong registry password'].value, safe='')}@")
        failed = cli("--state", wrong, "status", ok=False)
        assert "password authentication failed" in failed.stderr and ":***@" in failed.stderr, failed.stderr[-500:]
    leaks.check()
    assert leaks.scanner.sources, "nothing was scanned"
