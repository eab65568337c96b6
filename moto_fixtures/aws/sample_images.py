"""Tiny HTTP images for tests of the AWS emulation, built FROM modelport-base:bookworm and pushed."""

from __future__ import annotations

import io
import tarfile

import docker

BASE_IMAGE = "modelport-base:bookworm"

SERVER = r'''
import json, os, signal, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
VERSION = os.environ.get("APP_VERSION", "unknown")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/v2/health/ready":
            ready = os.environ.get("READY", "1") == "1"
            return self.send_json(200 if ready else 503, {"ready": ready})
        if self.path.startswith("/env/"):
            return self.send_json(200, {"value": os.environ.get(self.path[5:])})
        self.send_json(200, {"version": VERSION, "host": os.environ["MODELPORT_HOST"]})

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer((os.environ["MODELPORT_HOST"], int(os.environ["PORT"])), Handler)
print(f"hello {VERSION} listening on {os.environ['MODELPORT_HOST']}:{os.environ['PORT']}",
      flush=True)
server.serve_forever()
'''


def _context(version: str, base: str) -> bytes:
    dockerfile = (f"FROM {base}\nCOPY server.py /app/server.py\n"
                  f"ENV APP_VERSION={version}\nCMD [\"python3\", \"/app/server.py\"]\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in (("Dockerfile", dockerfile), ("server.py", SERVER)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def push(client: docker.DockerClient, local: str, repository: str, tag: str) -> str:
    """Tag ``local`` as ``repository:tag``, push it and return the manifest digest."""
    client.api.tag(local, repository, tag)
    digest = None
    for line in client.api.push(repository, tag=tag, stream=True, decode=True):
        if "error" in line:
            raise RuntimeError(f"push of {repository}:{tag} failed: {line['error']}")
        digest = (line.get("aux") or {}).get("Digest", digest)
    if digest is None:
        raise RuntimeError(f"push of {repository}:{tag} reported no digest")
    return digest


def build_hello(client: docker.DockerClient, version: str, tag: str, base: str = BASE_IMAGE) -> str:
    """Build the hello image (FROM ``base``) answering ``{"version": version}``; return its tag.

    It serves on ``$MODELPORT_HOST:$PORT``: ``/v2/health/ready`` (503 when ``READY=0``),
    ``/env/NAME`` (that variable's value) and anything else with its version.
    """
    client.images.build(fileobj=io.BytesIO(_context(version, base)), custom_context=True, tag=tag,
                        rm=True, forcerm=True)
    return tag


def tiny_image(client: docker.DockerClient, repository: str, tag: str, content: bytes) -> str:
    """Import a one-file image (no base needed) as ``repository:tag``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("content.txt")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    client.api.import_image_from_data(buf.getvalue(), repository=repository, tag=tag)
    return f"{repository}:{tag}"
