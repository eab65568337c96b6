"""A tiny HTTP image for data-plane tests, built FROM modelport-base:bookworm.

It serves on $MODELPORT_HOST:$ECHO_PORT (8080 by default): ``GET /env/NAME`` answers the
value of an environment variable, any other path answers ``{"path": ...}``. It exits on
SIGTERM at once, like the real serving image.
"""
from __future__ import annotations

import io
import tarfile

import docker

BASE_IMAGE = "modelport-base:bookworm"
_SERVER = b'''import http.server, json, os, signal, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/env/"):
            payload = {"value": os.environ.get(self.path[5:])}
        else:
            payload = {"path": self.path}
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        print("request", self.path, flush=True)
port = int(os.environ.get("ECHO_PORT", "8080"))
print("serving on", os.environ["MODELPORT_HOST"], port, flush=True)
http.server.ThreadingHTTPServer((os.environ["MODELPORT_HOST"], port), Handler).serve_forever()
'''
_DOCKERFILE = (f"FROM {BASE_IMAGE}\nCOPY echo.py /echo.py\n"
               'CMD ["python3", "-u", "/echo.py"]\n').encode()


def _context() -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("Dockerfile", _DOCKERFILE), ("echo.py", _SERVER)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def build_and_push(client: docker.DockerClient, repository: str,
                   auth: dict | None = None) -> str:
    """Build the echo image, push it as ``repository:v1`` and return ``repository@sha256:…``."""
    client.images.build(fileobj=_context(), custom_context=True, tag=f"{repository}:v1", rm=True)
    for line in client.images.push(repository, "v1", auth_config=auth, stream=True, decode=True):
        if line.get("error"):
            raise RuntimeError(f"push of {repository} failed: {line['error']}")
    digests = client.images.get(f"{repository}:v1").attrs["RepoDigests"]
    return next(d for d in digests if d.startswith(repository + "@"))


def push_for_platform(registry_host: str, repository: str, architecture: str = "arm64",
                      os_name: str = "linux") -> str:
    """Push a one-layer image whose config says ``os_name/architecture`` straight through the
    registry API (this amd64 machine has no emulator to build for another CPU) and return
    ``registry_host/repository@sha256:…``. The layer holds one text file and no program: the image
    exists to be rejected by what reads its config, never to run."""
    import gzip
    import hashlib
    import json

    import httpx

    def digest(data: bytes) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()

    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        data = f"built for {os_name}/{architecture}\n".encode()
        info = tarfile.TarInfo("platform.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    layer = gzip.compress(tar_bytes.getvalue(), mtime=0)
    config = json.dumps({"architecture": architecture, "os": os_name, "config": {"Cmd": ["/platform.txt"]},
                         "rootfs": {"type": "layers", "diff_ids": [digest(tar_bytes.getvalue())]}}).encode()
    base = f"http://{registry_host}/v2/{repository}"
    with httpx.Client(timeout=30) as http:
        for blob in (layer, config):
            start = http.post(f"{base}/blobs/uploads/")
            start.raise_for_status()
            location = start.headers["location"]
            location = location if location.startswith("http") else f"http://{registry_host}{location}"
            # the upload URL carries its own state in the query: append the digest to it
            location += ("&" if "?" in location else "?") + "digest=" + digest(blob).replace(":", "%3A")
            http.put(location, content=blob,
                     headers={"Content-Type": "application/octet-stream"}).raise_for_status()
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                       "digest": digest(config)},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer),
                        "digest": digest(layer)}]}).encode()
        http.put(f"{base}/manifests/{architecture}", content=manifest,
                 headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"}
                 ).raise_for_status()
    return f"{registry_host}/{repository}@{digest(manifest)}"
