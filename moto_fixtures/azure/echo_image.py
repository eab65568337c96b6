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
