"""``azblob://ACCOUNT/CONTAINER/PREFIX``: state blobs in Azure Storage (``modelport[azblob]``).

Credentials as the Azure CLI takes them: ``AZURE_STORAGE_CONNECTION_STRING`` (its
``BlobEndpoint`` also names a non-default endpoint, e.g. Azurite's), else
``AZURE_STORAGE_KEY`` for the URL's account, else ``DefaultAzureCredential`` (azure-identity).
The account key is registered with :mod:`modelport.redact` and never shown.

Records use conditional writes on ETags (``If-Match`` / ``If-None-Match: *``). A deployment's
lock is a blob *lease* on its lock blob, as Terraform's azurerm backend locks its state: the
holder renews it at each heartbeat, Azure itself ends it when renewals stop, and a broken
holder's renewals and lease-bound writes are refused by the service
(https://learn.microsoft.com/en-us/rest/api/storageservices/lease-blob).
"""

from __future__ import annotations

import os
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from ..errors import ModelportError, UsageError
from ..redact import remember
from .objects import Blob, Bucket

#: Lease Blob: "x-ms-lease-duration: -1 | n seconds ... between 15 and 60 seconds" (see above)
MIN_LEASE, MAX_LEASE = 15, 60


def lease_seconds(ttl: float) -> int:
    """The lease duration Azure accepts closest to ``ttl``."""
    return int(min(MAX_LEASE, max(MIN_LEASE, round(ttl))))


def _conn_fields(conn: str) -> dict[str, str]:
    return {k.lower(): v for k, _, v in (p.partition("=") for p in conn.split(";") if p)}


class AzureBucket(Bucket):
    """A container and blob-name prefix in one storage account."""

    def __init__(self, account: str, container: str, prefix: str) -> None:
        try:
            from azure.core import MatchConditions
            from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
            from azure.storage.blob import BlobLeaseClient, BlobServiceClient
        except ImportError:
            raise UsageError(f"--state azblob://{account}/{container}: Azure Blob needs azure-storage-blob",
                             hint="pip install 'modelport[azblob]'") from None
        self.account, self.container, self.prefix = account, container, prefix.strip("/")
        self.display = f"azblob://{account}/{container}" + (f"/{self.prefix}" if self.prefix else "")
        self._match, self._lease_client = MatchConditions, BlobLeaseClient
        self._http_error, self._not_found = HttpResponseError, ResourceNotFoundError
        self.client = self._service(BlobServiceClient).get_container_client(container)

    @classmethod
    def from_url(cls, url: str) -> "AzureBucket":
        """``azblob://ACCOUNT/CONTAINER/PREFIX``."""
        parts = urlsplit(url)
        container, _, prefix = parts.path.lstrip("/").partition("/")
        if not parts.netloc or not container:
            raise UsageError(f"--state {url}: name the account and container: azblob://ACCOUNT/CONTAINER/PREFIX")
        return cls(parts.netloc, container, prefix)

    def _service(self, service_cls: Any) -> Any:
        conn = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        if conn:
            fields = _conn_fields(conn)
            remember(fields.get("accountkey"), fields.get("sharedaccesssignature"))
            named = fields.get("accountname")
            if named and named != self.account:
                raise UsageError(f"--state {self.display}: AZURE_STORAGE_CONNECTION_STRING is for account "
                                 f"{named!r}, not {self.account!r}")
            return service_cls.from_connection_string(conn)
        url = f"https://{self.account}.blob.core.windows.net"
        key = os.environ.get("AZURE_STORAGE_KEY")
        if key:
            remember(key)
            return service_cls(url, credential={"account_name": self.account, "account_key": key})
        try:
            from azure.identity import DefaultAzureCredential
        except ImportError:
            raise UsageError(f"--state {self.display}: no credentials",
                             hint="set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY, "
                                  "or pip install azure-identity") from None
        return service_cls(url, credential=DefaultAzureCredential())

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, what: str, exc: Exception) -> ModelportError:
        code = getattr(exc, "error_code", None) or type(exc).__name__
        return ModelportError(f"state store {self.display}: {what} failed: {code}",
                              hint="check the container exists and the credentials may use it")

    def _conflict(self, exc: Exception) -> bool:
        return isinstance(exc, self._http_error) and getattr(exc, "status_code", None) in (409, 412)

    # -- objects -------------------------------------------------------------------------------------
    def get(self, key: str) -> Blob | None:
        dates: list[str] = []
        hook = lambda resp: dates.append(resp.http_response.headers.get("Date", ""))  # noqa: E731
        try:
            stream = self.client.get_blob_client(self._name(key)).download_blob(raw_response_hook=hook)
            data = stream.readall()
        except self._not_found:
            return None
        except self._http_error as exc:
            raise self._fail(f"reading {key}", exc) from None
        props = stream.properties
        age = (parsedate_to_datetime(dates[0]) - props.last_modified).total_seconds() if dates and dates[0] else 0.0
        return Blob(data, props.etag, max(0.0, age), lease=props.lease.state)

    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_absent: bool = False,
            lease: str | None = None) -> str | None:
        condition: dict[str, Any] = {"overwrite": not if_absent}
        if if_match:
            condition.update(etag=if_match, match_condition=self._match.IfNotModified)
        try:
            reply = self.client.get_blob_client(self._name(key)).upload_blob(data, lease=lease, **condition)
        except self._http_error as exc:
            if self._conflict(exc) or isinstance(exc, self._not_found):
                return None
            raise self._fail(f"writing {key}", exc) from None
        return reply["etag"]

    def delete(self, key: str, *, if_match: str | None = None, lease: str | None = None) -> None:
        condition = {"etag": if_match, "match_condition": self._match.IfNotModified} if if_match else {}
        try:
            self.client.get_blob_client(self._name(key)).delete_blob(lease=lease, **condition)
        except self._http_error:
            pass  # changed, leased by someone else, or gone: not ours to delete

    def keys(self, prefix: str) -> list[str]:
        start = len(self._name(""))
        try:
            return [n[start:] for n in self.client.list_blob_names(name_starts_with=self._name(prefix))]
        except self._http_error as exc:
            raise self._fail("listing", exc) from None

    # -- leases ----------------------------------------------------------------------------------------
    def _lease(self, key: str, lease_id: str | None = None) -> Any:
        return self._lease_client(self.client.get_blob_client(self._name(key)), lease_id=lease_id)

    def lease_create(self, key: str, data: bytes, ttl: float) -> str | None:
        if self.put(key, data, if_absent=True) is None:
            return None
        return self._acquire(key, ttl)

    def lease_replace(self, key: str, data: bytes, seen: str, ttl: float) -> str | None:
        # the holder is known to be gone (its process died on this host) though Azure may still
        # count its lease: break it, only while the blob is still the one read; then acquire it
        # (also only then) and write the new holder under the new lease. That write is the commit:
        # of two breakers, the one whose lease was broken by the other fails it and loses.
        condition = {"etag": seen, "match_condition": self._match.IfNotModified}
        try:
            self._lease(key).break_lease(lease_break_period=0, **condition)
        except self._http_error:
            pass  # no active lease (expired), or the blob changed: acquire below decides
        handle = self._acquire(key, ttl, seen)
        if handle is not None and self.put(key, data, lease=handle) is None:
            return None
        return handle

    def _acquire(self, key: str, ttl: float, etag: str | None = None) -> str | None:
        lease = self._lease(key)
        condition = {"etag": etag, "match_condition": self._match.IfNotModified} if etag else {}
        try:
            lease.acquire(lease_duration=lease_seconds(ttl), **condition)
        except self._http_error as exc:
            if self._conflict(exc) or isinstance(exc, self._not_found):
                return None
            raise self._fail(f"leasing {key}", exc) from None
        return lease.id

    def lease_renew(self, key: str, data: bytes, handle: str, ttl: float) -> str | None:
        try:
            self._lease(key, handle).renew()
        except self._http_error:
            return None  # broken, taken over, or gone: the lease is lost
        self.put(key, data, lease=handle)  # keeps the holder's operation current
        return handle

    def lease_release(self, key: str, handle: str) -> None:
        self.delete(key, lease=handle)

    def lease_ttl(self, ttl: float) -> float:
        return float(lease_seconds(ttl))

    def lease_expired(self, blob: Blob, ttl: float) -> bool:
        if blob.lease in ("leased", "breaking"):
            return False
        if blob.lease in ("expired", "broken"):
            return True
        # "available": created but not yet leased (a holder taking it right now), or its creator
        # died in between -- stale only once that moment is a lease's length ago
        return blob.age > lease_seconds(ttl)
