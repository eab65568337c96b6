"""Records every manifest pushed to the ECR stand-in in moto's ECR, as a real ECR push would.

The registry POSTs notification envelopes here; for each manifest push we fetch the exact
manifest bytes from the registry and call ``ecr.put_image`` with them and their digest, so
``describe_images`` / ``batch_get_image`` in moto report what was really pushed. Only repositories
that exist in moto are mirrored (a real ECR refuses pushes to a missing repository); other pushes
are recorded in ``MirrorEvent.outcome`` as ``"no-repository"`` and logged.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

log = logging.getLogger(__name__)

MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


@dataclass(frozen=True)
class MirrorEvent:
    """One manifest push seen by the mirror and what became of it."""

    repository: str
    digest: str
    tag: str | None
    media_type: str
    outcome: str  # "mirrored", "no-repository" or "error: ..."


class EcrMirror:
    """The webhook application plus the bookkeeping tests can wait on."""

    def __init__(self, ecr_client_factory, registry_address_getter):
        self._ecr = ecr_client_factory
        self._registry = registry_address_getter
        self.events: list[MirrorEvent] = []
        self._cond = threading.Condition()
        self.app = Starlette(routes=[Route("/events", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> Response:
        envelope = await request.json()
        for event in envelope.get("events", []):
            target = event.get("target", {})
            if event.get("action") == "push" and target.get("mediaType") in MANIFEST_TYPES:
                await run_in_threadpool(self._mirror, target)
        # Always 2xx: a retry would not help a repository that does not exist in moto.
        return Response(status_code=200)

    def _mirror(self, target: dict) -> None:
        repo, digest, tag = target["repository"], target["digest"], target.get("tag")
        try:
            outcome = self._put(repo, digest, tag, target["mediaType"])
        except Exception as exc:  # noqa: BLE001 - recorded for the test that waits on it
            outcome = f"error: {type(exc).__name__}: {exc}"
        if outcome != "mirrored":
            log.warning("ECR mirror: push of %s@%s not recorded in moto: %s", repo, digest, outcome)
        with self._cond:
            self.events.append(MirrorEvent(repo, digest, tag, target["mediaType"], outcome))
            self._cond.notify_all()

    def _put(self, repo: str, digest: str, tag: str | None, media_type: str) -> str:
        ecr = self._ecr()
        try:
            ecr.describe_repositories(repositoryNames=[repo])
        except ecr.exceptions.RepositoryNotFoundException:
            return "no-repository"
        manifest = self._fetch_manifest(repo, digest)
        kwargs = {"imageTag": tag} if tag else {}
        ecr.put_image(repositoryName=repo, imageManifest=manifest.decode("utf-8"),
                      imageManifestMediaType=media_type, imageDigest=digest, **kwargs)
        return "mirrored"

    def _fetch_manifest(self, repo: str, digest: str) -> bytes:
        url = f"http://{self._registry()}/v2/{repo}/manifests/{digest}"
        reply = httpx.get(url, headers={"Accept": ", ".join(MANIFEST_TYPES)}, timeout=10)
        reply.raise_for_status()
        body = reply.content
        if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
            raise ValueError(f"registry returned a manifest that does not match {digest}")
        return body

    def wait_for(self, repository: str, digest: str, timeout: float = 10) -> MirrorEvent:
        """Block until the push of ``repository@digest`` was handled; return its event."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if event.repository == repository and event.digest == digest:
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no push of {repository}@{digest} reached the ECR mirror")
                self._cond.wait(left)
