"""The registry client's HTTP layer (``modelport.registry.http``, on http.client) against real
servers: a docker-registry serving HTTPS with a throw-away CA, the standard proxy variables with
a forward proxy, and kept-alive connections reused (or dropped when the server closed them)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from modelport.registry import RegistryError, RegistryUnavailable, copy, push
from modelport.registry.client import RegistryClient
from modelport.registry.http import HttpPool
from modelport.registry.mediatypes import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST
from moto_fixtures.azure.tls import make_tls_files

from .conftest import _need_registry_binary
from .helpers import ConnectProxy, FlakyFront, Registry, synthetic_image

TRUST_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")


@pytest.fixture
def tls_registry(tmp_path):
    """A docker-registry on 127.0.0.1 serving HTTPS with a certificate from a fresh test CA."""
    _need_registry_binary()
    files = make_tls_files(tmp_path / "tls")
    registry = Registry(tmp_path / "registry-tls", tls=(files.cert_pem, files.key_pem), ca=files.ca_pem).start()
    yield registry
    registry.stop()


def _blob(client: RegistryClient, payload: bytes) -> dict:
    """Upload ``payload`` in a streamed PATCH of two chunks and commit it; its descriptor."""
    digest = "sha256:" + hashlib.sha256(payload).hexdigest()
    location = client.start_upload()
    location = client.patch_upload(location, iter([payload[:1000], payload[1000:]]), len(payload))
    client.finish_upload(location, digest)
    return {"digest": digest, "size": len(payload)}


def _round_trip(client: RegistryClient) -> None:
    """Every distribution call the transfers make, over this client's connection."""
    config = _blob(client, json.dumps({"architecture": "amd64", "os": "linux"}).encode())
    layer = _blob(client, hashlib.sha512(b"layer").digest() * 100)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {**config, "mediaType": OCI_CONFIG},
                           "layers": [{**layer, "mediaType": OCI_LAYER_GZIP}]}).encode()
    digest = client.put_manifest("v1", manifest, OCI_MANIFEST)
    assert client.blob_exists(layer["digest"]) and client.manifest_exists(digest)
    assert client.get_manifest("v1") == (manifest, OCI_MANIFEST, digest)
    with client.open_blob(layer["digest"]) as reply:
        assert b"".join(reply.iter_raw(700)) == hashlib.sha512(b"layer").digest() * 100


def test_https_registry_trusted_through_a_ca_bundle_path(tls_registry, monkeypatch):
    for variable in TRUST_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    with RegistryClient(tls_registry.host, "tls/m", push=True, scheme="https", verify=str(tls_registry.ca)) as client:
        _round_trip(client)


def test_https_registry_trusted_through_ssl_cert_file(tls_registry, monkeypatch):
    """verify=True reads SSL_CERT_FILE, as httpx, curl and pip do (a corporate CA bundle)."""
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_registry.ca))
    with RegistryClient(tls_registry.host, "tls/env", push=True, scheme="https") as client:
        _round_trip(client)


def test_an_untrusted_certificate_is_one_clear_error_not_retried(tls_registry, monkeypatch):
    for variable in TRUST_VARIABLES:
        monkeypatch.delenv(variable, raising=False)  # certifi's bundle: the test CA is not in it
    seen = len(tls_registry.requests())
    with RegistryClient(tls_registry.host, "tls/no", scheme="https") as client:
        with pytest.raises(RegistryError) as caught:
            client.manifest_exists("v1")
    assert not isinstance(caught.value, RegistryUnavailable)  # no retries: they cannot help
    message = str(caught.value)
    assert "not trusted" in message and "SSL_CERT_FILE" in message and tls_registry.host in message
    assert len(tls_registry.requests()) == seen  # refused in the handshake


def test_copy_goes_through_the_proxy_the_environment_names(store, registry_a, registry_b, monkeypatch):
    digest = synthetic_image(store, [300_000, 2_000], seed="proxied")
    push(store, digest, f"{registry_a.host}/px/m")
    front = FlakyFront(None, [])  # a forward proxy
    try:
        for variable in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://proxy-user:pr%40xy@{front.host}")
        result = copy(f"{registry_a.host}/px/m@{digest}", f"{registry_b.host}/px/m:v1")
        assert result.digest == digest and registry_b.manifest_digest("px/m", "v1") == digest
        methods = {method for method, _status in front.served}
        assert {"GET", "HEAD", "POST", "PATCH", "PUT"} <= methods, front.served
        expected = "Basic " + base64.b64encode(b"proxy-user:pr@xy").decode()
        assert set(front.proxy_authorizations) == {expected}
        through = len(front.served)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # bypassed: straight to the registries
        again = copy(f"{registry_a.host}/px/m@{digest}", f"{registry_b.host}/px/m:v1")
        assert again.blobs_skipped == result.blobs_sent and len(front.served) == through
    finally:
        front.close()


def test_https_goes_through_a_connect_tunnel_the_environment_names(tls_registry, monkeypatch):
    """HTTPS_PROXY: a CONNECT tunnel to the registry (with the proxy's credentials on the
    CONNECT), TLS verified end to end against the registry's own certificate."""
    proxy = ConnectProxy()
    try:
        for variable in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "https_proxy", *TRUST_VARIABLES):
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.setenv("HTTPS_PROXY", f"http://tunnel-user:s3cret@{proxy.host}")
        with RegistryClient(tls_registry.host, "tls/tunnel", push=True, scheme="https",
                            verify=str(tls_registry.ca)) as client:
            _round_trip(client)
        expected = "Basic " + base64.b64encode(b"tunnel-user:s3cret").decode()
        assert proxy.tunnels and set(proxy.tunnels) == {(tls_registry.host, expected)}, proxy.tunnels
        assert len(proxy.tunnels) == 1  # one kept-alive connection carried every request
    finally:
        proxy.close()


class _Counting(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive; counts connections; with ``drop`` closes each one after its reply
    without saying so (as a server does when its idle timeout passes)."""

    protocol_version = "HTTP/1.1"
    connections = 0
    drop = False

    def setup(self):
        super().setup()
        type(self).connections += 1

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        self.close_connection = type(self).drop

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("drop", [False, True])
def test_kept_alive_connections_are_reused_and_closed_ones_replaced(drop):
    handler = type("Handler", (_Counting,), {"drop": drop, "connections": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with HttpPool() as pool:
            url = f"http://127.0.0.1:{server.server_address[1]}/v2/"
            for _ in range(3):
                reply = pool.request("GET", url)
                assert (reply.status_code, reply.content) == (200, b"ok")
        assert handler.connections == (3 if drop else 1)
    finally:
        server.shutdown()
        server.server_close()
