"""A small OCI distribution-spec client for one repository, on :mod:`.http` (http.client).

Why not an existing library: we looked at oras-py, the maintained Python OCI client. It uploads a
blob from a file on disk and reads it whole into memory for a monolithic PUT, re-serialises
manifests from a dict with ``json=`` (so bytes — and therefore digests — can change), downloads
blobs to files, has no registry-to-registry streaming copy, and is built on ``requests``. Copying
by digest needs exactly those four things the other way round (stream GET → verified PATCH,
byte-exact manifests, cross-repository mounts, bounded memory), so the handful of spec calls are
written here, over the small connection pool in :mod:`.http` (why not httpx: see there).

Auth follows the registry's challenge: ``Basic`` gets the adapter's credentials; ``Bearer`` sends
them to the token realm (with the challenge's service and scopes plus the scopes this client
declares, e.g. pull on a mount source) and uses the returned token. Credentials and tokens live
only in request headers, never in messages or logs.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
from typing import Iterable, Iterator

from .auth import RegistryAuth, as_auth
from .errors import (ManifestDigestMismatch, RegistryAuthError, RegistryError, RegistryNotFound,
                     RegistryProtocolError)
from .http import HttpPool, Response, TransportError, UntrustedCertificate, basic_authorization, with_params
from .mediatypes import MANIFEST_ACCEPT
from .retry import RegistryRetryPolicy, TransientStatus, parse_retry_after, run_with_retry

log = logging.getLogger(__name__)

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_LOOPBACK = ("127.", "localhost", "[::1]")


def default_scheme(registry: str) -> str:
    """``http`` for loopback registries (as Docker does), ``https`` for everything else."""
    return "http" if registry.startswith(_LOOPBACK) else "https"


def new_http_client(verify: bool | str = True, timeout: float = 60.0) -> HttpPool:
    """The connection pool registry calls use; share one across clients (TLS and its CA bundle
    are set up on the first https request only)."""
    return HttpPool(verify=verify, timeout=timeout, connect_timeout=15.0)


class RegistryClient:
    """Distribution-spec calls against ``registry``/``repository`` with auth and retries."""

    def __init__(self, registry: str, repository: str, auth: RegistryAuth | None = None, *,
                 push: bool = False, extra_scopes: Iterable[str] = (), retry: RegistryRetryPolicy | None = None,
                 scheme: str | None = None, verify: bool | str = True, timeout: float = 60.0,
                 http: HttpPool | None = None) -> None:
        self.registry = registry
        self.repository = repository
        self.retry = retry or RegistryRetryPolicy()
        self._auth = as_auth(auth)
        self._base = f"{scheme or default_scheme(registry)}://{registry}"
        action = "pull,push" if push else "pull"
        self._scopes = [f"repository:{repository}:{action}", *extra_scopes]
        self._owns_http = http is None
        self._http = http or new_http_client(verify, timeout)
        self._lock = threading.Lock()
        self._authorization: str | None = None

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (only if this client created it)."""
        if self._owns_http:
            self._http.close()

    def __repr__(self) -> str:
        return f"RegistryClient({self.registry!r}, {self.repository!r}, auth={self._auth!r})"

    # ---- generic request with auth -------------------------------------------------------------

    def url(self, path: str) -> str:
        """Absolute URL for a ``/v2/...`` path or a registry-given Location."""
        if path.startswith(("http://", "https://")):
            return path
        return self._base + path

    def send(self, method: str, path: str, *, step: str, expected: tuple[int, ...] = (200,),
             headers: dict | None = None, content=None, params=None, stream: bool = False,
             follow_redirects: bool = False, replayable: bool = True) -> Response:
        """One request; answers a 401 challenge once (if the body can be replayed), maps errors.

        Raises :class:`TransientStatus` for 5xx/429 (the caller's retry loop handles them) and a
        typed :class:`RegistryError` for everything else unexpected.
        """
        try:
            response = self._send_once(method, path, headers, content, params, stream, follow_redirects)
        except UntrustedCertificate as exc:
            raise RegistryError(str(exc), registry=self.registry, step=step) from None
        if response.status_code == 401 and replayable:
            challenge = response.headers.get("www-authenticate", "")
            refused = response.sent_headers.get("Authorization")
            response.close()
            self._answer_challenge(challenge, refused, step)
            response = self._send_once(method, path, headers, content, params, stream, follow_redirects)
        if response.status_code in expected:
            return response
        if stream:
            response.read()
        response.close()
        raise self._error_for(response, step)

    def _send_once(self, method, path, headers, content, params, stream, follow_redirects) -> Response:
        merged = dict(headers or {})
        with self._lock:
            if self._authorization:
                merged["Authorization"] = self._authorization
        # params are merged: upload Locations carry their own state in the query string.
        # Authorization is dropped on redirects to another origin (e.g. S3 presigned blob URLs).
        return self._http.request(method, with_params(self.url(path), params), headers=merged, body=content,
                                  stream=stream, follow_redirects=follow_redirects)

    def _error_for(self, response: Response, step: str) -> Exception:
        status = response.status_code
        codes = _error_codes(response)
        detail = f"HTTP {status}" + (f" ({', '.join(codes)})" if codes else "")
        if status == 429 or status >= 500:
            return TransientStatus(status, parse_retry_after(response.headers.get("retry-after")))
        if status in (401, 403):
            return RegistryAuthError(f"access denied: {detail}", registry=self.registry, step=step)
        if status == 404:
            return RegistryNotFound(f"not found: {detail}", registry=self.registry, step=step)
        return RegistryProtocolError(f"unexpected answer: {detail}", registry=self.registry, step=step)

    def _answer_challenge(self, challenge: str, refused: str | None, step: str) -> None:
        with self._lock:
            if self._authorization and self._authorization != refused:
                return  # another thread already answered a challenge since this request was sent
        scheme, _, params_text = challenge.partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(params_text))
        creds = self._auth.credentials_for(self.registry)
        if scheme.lower() == "basic":
            if creds is None:
                raise RegistryAuthError("registry requires credentials and none were configured",
                                        registry=self.registry, step=step)
            if refused == basic_authorization(creds.username, creds.password):
                # exactly these credentials were just refused: let the adapter refresh once
                self._auth.invalidate(self.registry)
                creds = self._auth.credentials_for(self.registry)
            value = basic_authorization(creds.username, creds.password)
        elif scheme.lower() == "bearer" and "realm" in params:
            value = "Bearer " + self._fetch_token(params, creds, step)
        else:
            raise RegistryAuthError(f"unsupported auth challenge {scheme or '(none)'!r}",
                                    registry=self.registry, step=step)
        with self._lock:
            self._authorization = value

    def _fetch_token(self, params: dict, creds, step: str) -> str:
        scopes = list(dict.fromkeys([*params.get("scope", "").split(" "), *self._scopes]))
        query = [("service", params["service"])] if params.get("service") else []
        query += [("scope", s) for s in scopes if s]
        headers = {"Authorization": basic_authorization(creds.username, creds.password)} if creds else {}
        try:
            reply = self._http.request("GET", with_params(params["realm"], query), headers=headers)
        except TransportError as exc:
            raise RegistryAuthError(f"token endpoint unreachable ({exc})",
                                    registry=self.registry, step=f"{step}: bearer token") from None
        except UntrustedCertificate as exc:
            raise RegistryAuthError(str(exc), registry=self.registry, step=f"{step}: bearer token") from None
        if reply.status_code != 200:
            raise RegistryAuthError(f"token endpoint refused: HTTP {reply.status_code}",
                                    registry=self.registry, step=f"{step}: bearer token")
        body = reply.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryAuthError("token endpoint returned no token", registry=self.registry,
                                    step=f"{step}: bearer token")
        return token

    def retrying(self, fn, *, step: str):
        """Run ``fn`` under this client's retry policy."""
        return run_with_retry(self.retry, fn, registry=self.registry, step=step)

    # ---- distribution-spec operations ----------------------------------------------------------

    def blob_exists(self, digest: str) -> bool:
        """HEAD the blob: does this repository already have it?"""
        def head() -> bool:
            r = self.send("HEAD", f"/v2/{self.repository}/blobs/{digest}", step="check blob",
                          expected=(200, 404), follow_redirects=True)
            return r.status_code == 200
        return self.retrying(head, step=f"check blob {digest}")

    def manifest_exists(self, reference: str) -> bool:
        """HEAD the manifest by digest or tag."""
        def head() -> bool:
            r = self.send("HEAD", f"/v2/{self.repository}/manifests/{reference}", step="check manifest",
                          expected=(200, 404), headers={"Accept": MANIFEST_ACCEPT})
            return r.status_code == 200
        return self.retrying(head, step=f"check manifest {reference}")

    def get_manifest(self, reference: str) -> tuple[bytes, str, str]:
        """Fetch a manifest: ``(bytes, media type, digest)``; a digest reference is verified."""
        step = f"get manifest {reference}"

        def get() -> Response:
            return self.send("GET", f"/v2/{self.repository}/manifests/{reference}", step=step,
                             headers={"Accept": MANIFEST_ACCEPT})
        reply = self.retrying(get, step=step)
        body = reply.content
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise ManifestDigestMismatch("manifest", reference, digest, registry=self.registry, step=step)
        media_type = reply.headers.get("content-type", "").split(";")[0].strip()
        return body, media_type, digest

    def put_manifest(self, reference: str, body: bytes, media_type: str) -> str:
        """PUT the manifest bytes unchanged; verify the digest the registry reports."""
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        step = f"put manifest {reference}"

        def put() -> Response:
            return self.send("PUT", f"/v2/{self.repository}/manifests/{reference}", step=step,
                             expected=(200, 201), content=body, headers={"Content-Type": media_type})
        reply = self.retrying(put, step=step)
        reported = reply.headers.get("docker-content-digest")
        if reported and reported != digest:
            raise ManifestDigestMismatch("registry-reported manifest", digest, reported,
                                         registry=self.registry, step=step)
        return digest

    @contextlib.contextmanager
    def open_blob(self, digest: str) -> Iterator[Response]:
        """Stream a blob (follows redirects to storage backends); the caller verifies the bytes."""
        def get() -> Response:
            return self.send("GET", f"/v2/{self.repository}/blobs/{digest}", step=f"get blob {digest}",
                             stream=True, follow_redirects=True, headers={"Accept-Encoding": "identity"})
        response = self.retrying(get, step=f"get blob {digest}")
        try:
            yield response
        finally:
            response.close()

    def start_upload(self, mount: str | None = None, mount_from: str | None = None) -> str | None:
        """POST an upload session; with ``mount`` try a cross-repository mount first.

        Returns ``None`` when the blob was mounted, else the upload Location.
        """
        params = {"mount": mount, "from": mount_from} if mount else None
        r = self.send("POST", f"/v2/{self.repository}/blobs/uploads/", step="start upload",
                      expected=(201, 202), params=params, headers={"Content-Length": "0"})
        if r.status_code == 201 and mount:
            return None
        location = r.headers.get("location")
        if not location:
            raise RegistryProtocolError("upload session without Location", registry=self.registry,
                                        step="start upload")
        return location

    def patch_upload(self, location: str, chunks: Iterable[bytes], size: int) -> str:
        """Stream the whole blob in one PATCH (Content-Length known); returns the next Location."""
        r = self.send("PATCH", location, step="upload blob", expected=(202, 204), content=chunks,
                      replayable=False, headers={"Content-Type": "application/octet-stream",
                                                 "Content-Length": str(size)})
        return r.headers.get("location") or location

    def finish_upload(self, location: str, digest: str) -> None:
        """Commit the upload under ``digest``; the registry verifies it too."""
        r = self.send("PUT", location, step="commit blob", expected=(201, 204), params={"digest": digest},
                      headers={"Content-Length": "0"})
        reported = r.headers.get("docker-content-digest")
        if reported and reported != digest:
            raise RegistryProtocolError(f"committed blob reported as {reported}, expected {digest}",
                                        registry=self.registry, step="commit blob")

    def cancel_upload(self, location: str) -> None:
        """Best-effort DELETE of an unfinished upload session."""
        with contextlib.suppress(RegistryError, TransientStatus, TransportError):
            self.send("DELETE", location, step="cancel upload", expected=(202, 204, 404))


def _error_codes(response: Response) -> list[str]:
    try:
        return [str(e.get("code")) for e in response.json().get("errors", []) if e.get("code")]
    except Exception:  # HEAD replies and non-JSON bodies have no error list
        return []
