"""The only file of the gcp provider that calls Google's SDKs (google-cloud-run, google-auth).

Cloud Run Admin API v2 over the REST transport; every long-running operation is waited for with
the target's ``operation_timeout_s``. SDK exceptions become ProviderError; a message never holds a
credential (the API's own message and status code only).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

from modelport.errors import ProviderError

from .settings import GcpSettings

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


@contextlib.contextmanager
def api_errors(operation: str) -> Iterator[None]:
    """Map SDK exceptions to ProviderError (parent classes: REST and gRPC raise different children)."""
    import concurrent.futures

    from google.api_core import exceptions as gexc
    from google.auth import exceptions as aexc

    retryable = (gexc.ServiceUnavailable, gexc.TooManyRequests, gexc.DeadlineExceeded,
                 gexc.InternalServerError, gexc.Aborted, gexc.RetryError)
    try:
        yield
    except ProviderError:
        raise
    except aexc.DefaultCredentialsError:
        raise ProviderError("gcp", operation, "no Google credentials found (application default credentials)",
                            hint="run `gcloud auth application-default login` or set "
                                 "GOOGLE_APPLICATION_CREDENTIALS; for a local emulator set "
                                 "api_endpoint and credentials = \"anonymous\"") from None
    except aexc.GoogleAuthError as exc:
        raise ProviderError("gcp", operation, f"Google credentials were refused ({type(exc).__name__})",
                            hint="refresh your login: gcloud auth application-default login") from None
    except gexc.GoogleAPICallError as exc:
        code = getattr(exc, "code", None)
        raise ProviderError("gcp", operation, f"{type(exc).__name__} ({code}): {exc.message}",
                            retryable=isinstance(exc, retryable)) from None
    except gexc.GoogleAPIError as exc:
        raise ProviderError("gcp", operation, f"{type(exc).__name__}: {exc}", retryable=isinstance(exc, retryable)) from None
    except concurrent.futures.TimeoutError:
        raise ProviderError("gcp", operation, "the operation did not finish in time", retryable=True,
                            hint="raise operation_timeout_s in the target settings") from None
    except OSError as exc:  # requests' ConnectionError is an OSError: the endpoint is unreachable
        raise ProviderError("gcp", operation, f"cannot reach the Cloud Run API ({type(exc).__name__})",
                            retryable=True) from None


def read_retry():
    """Retry of reads and operation polls on throttling, 5xx and dropped connections, with
    backoff. Google's generated client retries only some reads, on 503 only; a single 429 or
    reset while reading (or while polling an operation that is already running) must not fail
    a deployment. Writes are not retried here: the engine retries the whole idempotent step."""
    import requests
    from google.api_core import exceptions as gexc
    from google.api_core import retry

    transient = (gexc.TooManyRequests, gexc.ServiceUnavailable, gexc.InternalServerError, gexc.BadGateway,
                 gexc.GatewayTimeout, requests.exceptions.ConnectionError, requests.exceptions.Timeout)
    return retry.Retry(predicate=retry.if_exception_type(*transient), initial=0.5, maximum=4.0,
                       multiplier=2.0, timeout=30.0)


def _to_dict(message) -> dict[str, Any]:
    return type(message).to_dict(message, use_integers_for_enums=False, preserving_proto_field_name=True)


def credentials(settings: GcpSettings):
    """google-auth credentials for the target (the default chain, or anonymous)."""
    if settings.credentials == "anonymous":
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()
    import google.auth

    with api_errors("load credentials"):
        creds, _project = google.auth.default(scopes=SCOPES)
    return creds


#: google-api-core registers an asyncio REST transport for operations when this imports, which
#: pulls in aiohttp (a tenth of a second) wherever aiohttp happens to be installed.
_ASYNC_REST_SESSIONS = "google.auth.aio.transport.sessions"


def _import_run_v2():
    """``google.cloud.run_v2``, without the asyncio REST transport of google-api-core.

    modelport calls Cloud Run through the synchronous REST transport only. While run_v2 loads,
    a ``None`` entry in ``sys.modules`` makes the optional import of google-auth's aiohttp
    sessions raise ImportError, the path google-api-core takes when its ``async_rest`` extra is
    not installed; the entry is removed afterwards, so later imports of it work as usual.
    """
    import sys

    if "google.cloud.run_v2" in sys.modules or _ASYNC_REST_SESSIONS in sys.modules:
        from google.cloud import run_v2

        return run_v2
    sys.modules[_ASYNC_REST_SESSIONS] = None
    try:
        from google.cloud import run_v2
    finally:
        if sys.modules.get(_ASYNC_REST_SESSIONS, ...) is None:
            del sys.modules[_ASYNC_REST_SESSIONS]
    return run_v2


class CloudRun:
    """Typed calls to Cloud Run Admin API v2 for one target; replies are plain dicts."""

    def __init__(self, settings: GcpSettings) -> None:
        from google.api_core.client_options import ClientOptions

        run_v2 = _import_run_v2()
        self.settings = settings
        self.credentials = credentials(settings)
        options = ClientOptions(api_endpoint=settings.api_endpoint) if settings.api_endpoint else None
        kwargs = {"credentials": self.credentials, "transport": "rest", "client_options": options}
        self._run = run_v2
        self.services = run_v2.ServicesClient(**kwargs)
        self.revisions = run_v2.RevisionsClient(**kwargs)
        self._read = read_retry()

    # -- LROs ---------------------------------------------------------------------------------
    def _wait(self, operation) -> Any:
        from google.api_core.future import polling

        # The default polls up to 20 s apart; a revision is usually ready in seconds.
        timeout = self.settings.operation_timeout_s
        every = polling.DEFAULT_POLLING.with_delay(initial=0.3, maximum=3.0, multiplier=1.5).with_timeout(timeout)
        return operation.result(timeout=timeout, retry=self._read, polling=every)

    # -- services -----------------------------------------------------------------------------
    def get_service(self, name: str) -> dict[str, Any] | None:
        """The service, or None when it does not exist."""
        from google.api_core import exceptions as gexc

        with api_errors("get service"):
            try:
                return _to_dict(self.services.get_service(name=name, retry=self._read))
            except gexc.NotFound:
                return None

    def settled(self, name: str) -> dict[str, Any] | None:
        """The service once Cloud Run has finished reconciling it (``reconciling`` false: its
        routes and latest revision are what its spec says, or the attempt failed), polled up to
        ``operation_timeout_s``; None when it does not exist."""
        deadline = time.monotonic() + self.settings.operation_timeout_s
        wait = 0.3
        while True:
            service = self.get_service(name)
            if service is None or not service.get("reconciling") or time.monotonic() > deadline:
                return service
            time.sleep(wait)
            wait = min(wait * 1.5, 3.0)

    def create_service(self, parent: str, service_id: str, service: dict[str, Any]) -> dict[str, Any]:
        """CreateService and wait for it."""
        with api_errors(f"create service {service_id}"):
            op = self.services.create_service(parent=parent, service_id=service_id,
                                              service=self._run.Service(service))
            return _to_dict(self._wait(op))

    def update_service(self, name: str, service: dict[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
        """UpdateService (only ``fields`` when given) and wait for it."""
        from google.protobuf import field_mask_pb2

        body = self._run.Service({**service, "name": name})
        mask = field_mask_pb2.FieldMask(paths=fields) if fields else None
        with api_errors(f"update service {name.rsplit('/', 1)[-1]}"):
            op = self.services.update_service(service=body, update_mask=mask)
            return _to_dict(self._wait(op))

    def delete_service(self, name: str) -> None:
        """DeleteService and wait for it (a missing service is fine)."""
        from google.api_core import exceptions as gexc

        with api_errors(f"delete service {name.rsplit('/', 1)[-1]}"):
            try:
                self._wait(self.services.delete_service(name=name))
            except gexc.NotFound:
                pass

    def list_services(self, parent: str) -> list[dict[str, Any]]:
        """Every service of a location."""
        with api_errors("list services"):
            return [_to_dict(s) for s in self.services.list_services(parent=parent, retry=self._read)]

    # -- revisions ----------------------------------------------------------------------------
    def list_revisions(self, service: str) -> list[dict[str, Any]]:
        """Every revision of a service (empty when the service is gone)."""
        from google.api_core import exceptions as gexc

        with api_errors("list revisions"):
            try:
                return [_to_dict(r) for r in self.revisions.list_revisions(parent=service, retry=self._read)]
            except gexc.NotFound:
                return []

    def get_revision(self, name: str) -> dict[str, Any] | None:
        """One revision, or None."""
        from google.api_core import exceptions as gexc

        with api_errors("get revision"):
            try:
                return _to_dict(self.revisions.get_revision(name=name, retry=self._read))
            except gexc.NotFound:
                return None

    def delete_revision(self, name: str) -> None:
        """DeleteRevision and wait for it (a missing revision is fine)."""
        from google.api_core import exceptions as gexc

        with api_errors(f"delete revision {name.rsplit('/', 1)[-1]}"):
            try:
                self._wait(self.revisions.delete_revision(name=name))
            except gexc.NotFound:
                pass

    # -- IAM ----------------------------------------------------------------------------------
    def get_policy(self, resource: str) -> dict[str, Any]:
        """The service's IAM policy as {"bindings": [{"role", "members"}], "etag", "version"}."""
        with api_errors("get IAM policy"):
            policy = self.services.get_iam_policy(request={"resource": resource}, retry=self._read)
        return {"bindings": [{"role": b.role, "members": list(b.members),
                              **({"condition": True} if b.HasField("condition") else {})}
                             for b in policy.bindings],
                "etag": policy.etag, "version": policy.version}

    def set_policy(self, resource: str, policy: dict[str, Any]) -> None:
        """setIamPolicy with the read etag (a concurrent change fails instead of being lost)."""
        from google.iam.v1 import policy_pb2

        if any(b.get("condition") for b in policy["bindings"]):
            raise ProviderError("gcp", "set IAM policy", "the policy has conditional bindings, which "
                                "modelport does not rewrite", hint="grant roles/run.invoker by hand")
        body = policy_pb2.Policy(version=policy.get("version") or 1, etag=policy.get("etag") or b"",
                                 bindings=[policy_pb2.Binding(role=b["role"], members=b["members"])
                                           for b in policy["bindings"]])
        with api_errors("set IAM policy"):
            self.services.set_iam_policy(request={"resource": resource, "policy": body})


def artifact_registry_available() -> bool:
    """Is google-cloud-artifact-registry installed (an optional extra of this provider)?"""
    import importlib.util

    return importlib.util.find_spec("google.cloud.artifactregistry_v1") is not None


class ArtifactRegistry:
    """Docker repositories in Artifact Registry (only with google-cloud-artifact-registry installed)."""

    def __init__(self, settings: GcpSettings) -> None:
        from google.cloud import artifactregistry_v1

        self._ar = artifactregistry_v1
        self.settings = settings
        self.client = artifactregistry_v1.ArtifactRegistryClient(credentials=credentials(settings))

    def name(self) -> str:
        s = self.settings
        return f"projects/{s.project}/locations/{s.region}/repositories/{s.repository}"

    def exists(self) -> bool:
        """Does the target's repository exist?"""
        from google.api_core import exceptions as gexc

        with api_errors("get Artifact Registry repository"):
            try:
                self.client.get_repository(name=self.name())
                return True
            except gexc.NotFound:
                return False

    def create(self) -> None:
        """Create the target's Docker repository (an existing one is fine)."""
        from google.api_core import exceptions as gexc

        s = self.settings
        repository = self._ar.Repository(format_=self._ar.Repository.Format.DOCKER,
                                          labels={"modelport-managed": "true"})
        with api_errors("create Artifact Registry repository"):
            try:
                op = self.client.create_repository(parent=f"projects/{s.project}/locations/{s.region}",
                                                   repository_id=s.repository, repository=repository)
                op.result(timeout=s.operation_timeout_s)
            except gexc.Conflict:  # created meanwhile (AlreadyExists over gRPC, 409 over REST)
                pass
