"""Test helpers: a real `docker-registry` process, a byte-counting TCP proxy, synthetic images."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from modelport.registry import OciStore
from modelport.registry.mediatypes import OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST

_LINGER_RESET = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # struct linger {on, 0 s}
_ACCESS = re.compile(r'"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d+)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Registry:
    """A `docker-registry serve` process with filesystem storage in ``root``."""

    root: Path
    htpasswd: Path | None = None
    auth: dict | None = None  # a distribution `auth:` section (e.g. token auth)
    tls: tuple[Path, Path] | None = None  # (certificate, key): serve HTTPS (verified with ``ca``)
    ca: Path | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "registry.log"

    def start(self) -> "Registry":
        self.root.mkdir(parents=True, exist_ok=True)
        config = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {"filesystem": {"rootdirectory": str(self.root / "data")}, "delete": {"enabled": True}},
            "http": {"addr": self.host, "secret": "test-secret"},
        }
        if self.tls:
            config["http"]["tls"] = {"certificate": str(self.tls[0]), "key": str(self.tls[1])}
        if self.htpasswd:
            config["auth"] = {"htpasswd": {"realm": "test", "path": str(self.htpasswd)}}
        elif self.auth:
            config["auth"] = self.auth
        (self.root / "config.yml").write_text(json.dumps(config))  # JSON is valid YAML
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(self.root / "config.yml")],
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                reply = httpx.get(f"{'https' if self.tls else 'http'}://{self.host}/v2/", timeout=1,
                                  verify=ssl.create_default_context(cafile=self.ca) if self.ca else True)
                if reply.status_code in (200, 401):
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"registry on {self.host} did not start: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, uri, status) of every request in the access log so far."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [(m, u, int(s)) for m, u, s in _ACCESS.findall(text)]

    def blob_file(self, digest: str) -> Path:
        hex_ = digest.split(":", 1)[1]
        return self.root / "data" / "docker" / "registry" / "v2" / "blobs" / "sha256" / hex_[:2] / hex_ / "data"

    def has_manifest(self, repo: str, reference: str, auth=None) -> bool:
        accept = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])
        r = httpx.head(f"http://{self.host}/v2/{repo}/manifests/{reference}", headers={"Accept": accept},
                       auth=auth)
        return r.status_code == 200

    def tags(self, repo: str, auth=None) -> list[str]:
        r = httpx.get(f"http://{self.host}/v2/{repo}/tags/list", auth=auth)
        return (r.json().get("tags") or []) if r.status_code == 200 else []

    def manifest_digest(self, repo: str, reference: str) -> str:
        r = httpx.get(f"http://{self.host}/v2/{repo}/manifests/{reference}",
                      headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}, {DOCKER_MANIFEST}, {DOCKER_LIST}"})
        r.raise_for_status()
        return "sha256:" + hashlib.sha256(r.content).hexdigest()


class CountingProxy:
    """A TCP proxy in front of a registry that counts client→registry bytes.

    ``drop_after``: once that many upstream bytes have passed (in total), every open connection
    is reset and the limit is cleared — one simulated network failure mid-stream.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.sent = 0
        self.drop_after: int | None = None
        self.drops = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def reset_count(self) -> None:
        with self._lock:
            self.sent = 0

    def close(self) -> None:
        self._stop = True
        self._server.close()
        self._drop_all()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, counted: bool) -> None:
        try:
            while data := src.recv(1 << 16):
                if counted and self._count(len(data)):
                    self._drop_all()
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _count(self, n: int) -> bool:
        with self._lock:
            self.sent += n
            if self.drop_after is not None and self.sent >= self.drop_after:
                self.drop_after = None
                self.drops += 1
                return True
            return False

    def _drop_all(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            # linger 0 turns the close into a reset; shutdown first wakes threads blocked in recv
            # (a plain close would not, and the peer would wait for a timeout instead).
            for action in (lambda: s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET),
                           lambda: s.shutdown(socket.SHUT_RDWR), s.close):
                try:
                    action()
                except OSError:
                    pass


DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def synthetic_image(store: OciStore, layer_sizes: list[int], seed: str, *, docker: bool = False) -> str:
    """Store an image with random layers of the given sizes; returns the manifest digest.
    ``docker=True`` writes Docker schema 2 media types instead of OCI ones."""
    layers = []
    for i, size in enumerate(layer_sizes):
        data = _random_bytes(f"{seed}-{i}", size)
        digest, n = store.write_blob(data)
        layer_type = "application/vnd.docker.image.rootfs.diff.tar.gzip" if docker else OCI_LAYER_GZIP
        layers.append({"mediaType": layer_type, "digest": digest, "size": n})
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                         "config": {"Labels": {"seed": seed}}}).encode()
    config_digest, config_size = store.write_blob(config)
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    config_type = "application/vnd.docker.container.image.v1+json" if docker else OCI_CONFIG
    manifest = {"schemaVersion": 2, "mediaType": media_type,
                "config": {"mediaType": config_type, "digest": config_digest, "size": config_size},
                "layers": layers}
    digest, _ = store.write_blob(json.dumps(manifest, indent=3).encode())
    store.add_manifest(digest, media_type)
    return digest


def synthetic_index(store: OciStore, children: list[str], *, docker: bool = False) -> str:
    """Store an OCI index (or Docker manifest list) over stored manifests (odd whitespace on
    purpose: the bytes must survive unchanged)."""
    child_type, media_type = (DOCKER_MANIFEST, DOCKER_LIST) if docker else (OCI_MANIFEST, OCI_INDEX)
    manifests = [{"mediaType": child_type, "digest": d, "size": store.blob_size(d),
                  "platform": {"architecture": arch, "os": "linux"}}
                 for d, arch in zip(children, ["amd64", "arm64", "ppc64le", "s390x"])]
    body = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}, indent=5).encode()
    digest, _ = store.write_blob(body + b"\n")
    store.add_manifest(digest, media_type)
    return digest


def _random_bytes(seed: str, size: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha512(f"{seed}:{counter}".encode()).digest() * 64
        counter += 1
    return bytes(out[:size])


def blob_sizes(store: OciStore, digest: str) -> dict[str, int]:
    """Every blob digest -> size referenced by a stored image manifest (config + layers)."""
    doc = json.loads(store.read_manifest(digest)[0])
    return {d["digest"]: d["size"] for d in [doc["config"], *doc["layers"]]}


def upload_requests(registry: Registry, since: int = 0) -> int:
    """Count blob-upload requests (PATCH, PUT on /blobs/) in the registry's access log since index."""
    return sum(1 for m, u, s in registry.requests()[since:] if m == "PATCH" or (m == "PUT" and "/blobs/" in u))


class Served:
    """A server on a loopback port (``host``), served by a daemon thread until ``close()``."""

    def _serve(self, server) -> None:
        self._server = server
        self.host = f"127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class FlakyFront(Served):
    """An HTTP front for a registry that answers the first ``failures`` requests with the given
    (status, Retry-After) pairs, then forwards everything (bodies buffered: small test blobs).

    It is also a plain forward proxy: a request for an absolute ``http://`` URL (what a client
    sends to a proxy named by ``HTTP_PROXY``) goes to that URL; ``upstream`` may then be None."""

    def __init__(self, upstream: str | None, failures: list[tuple[int, str | None]]) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.failures = list(failures)
        self.served: list[tuple[str, int]] = []
        self.proxy_authorizations: list[str | None] = []
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with threading.Lock():
                    failure = front.failures.pop(0) if front.failures else None
                if failure:
                    status, retry_after = failure
                    front.served.append((self.command, status))
                    self.send_response(status)
                    if retry_after is not None:
                        self.send_header("Retry-After", retry_after)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                front.proxy_authorizations.append(self.headers.get("Proxy-Authorization"))
                hop = ("host", "content-length", "proxy-authorization")
                headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
                url = self.path if self.path.startswith("http://") else f"http://{upstream}{self.path}"
                reply = httpx.request(self.command, url, headers=headers, content=body, trust_env=False)
                front.served.append((self.command, reply.status_code))
                self.send_response(reply.status_code)
                for key, value in reply.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "date"):
                        self.send_header(key, value)
                data = b"" if self.command == "HEAD" else reply.content
                self.send_header("Content-Length", reply.headers.get("content-length", str(len(data)))
                                 if self.command == "HEAD" else str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self._serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler))


class ConnectProxy(Served):
    """An HTTPS forward proxy: answers ``CONNECT host:port`` by opening that connection and
    relaying bytes both ways (TLS stays end to end); records each tunnel's target and
    ``Proxy-Authorization``."""

    def __init__(self) -> None:
        import socketserver

        self.tunnels: list[tuple[str, str | None]] = []
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                request = self.rfile.readline().decode("latin-1").split()
                headers = {}
                while (line := self.rfile.readline().decode("latin-1").strip()):
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                if len(request) < 2 or request[0] != "CONNECT":
                    self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                    return
                proxy.tunnels.append((request[1], headers.get("proxy-authorization")))
                host, _, port = request[1].rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=30)
                self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self.wfile.flush()
                relay = threading.Thread(target=_pipe, args=(upstream, self.connection), daemon=True)
                relay.start()
                _pipe(self.connection, upstream)
                relay.join(30)
                upstream.close()

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._serve(Server(("127.0.0.1", 0), Handler))


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes until ``source`` ends, then end ``sink``'s writing side."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass
