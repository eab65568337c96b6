"""``s3://BUCKET/PREFIX``: state objects in S3 (``modelport[s3]``, boto3).

Endpoint, region and credentials come from boto3's own settings, as for the AWS CLI
(``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_PROFILE``, ``AWS_CA_BUNDLE``...).
Writes are conditional, as Terraform's S3 lockfile does: ``If-None-Match: *`` to create,
``If-Match: ETAG`` to change or delete; S3 answers 412 when another writer came first
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from ..errors import ModelportError, UsageError
from ..redact import remember
from .objects import Blob, Bucket

_CONFLICT = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")


class S3Bucket(Bucket):
    """A bucket and key prefix, through one boto3 client."""

    def __init__(self, bucket: str, prefix: str) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise UsageError(f"--state s3://{bucket}: S3 needs boto3", hint="pip install 'modelport[s3]'") from None
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.display = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        session = boto3.session.Session()
        _remember_credentials(session)
        self.client = session.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 4}))
        self._errors = self.client.exceptions

    @classmethod
    def from_url(cls, url: str) -> "S3Bucket":
        """``s3://BUCKET/PREFIX``."""
        parts = urlsplit(url)
        if not parts.netloc:
            raise UsageError(f"--state {url}: name the bucket: s3://BUCKET/PREFIX")
        return cls(parts.netloc, parts.path)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, fn, *args, **kwargs) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._errors.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _CONFLICT or code in ("NoSuchKey", "404"):
                raise
            raise ModelportError(f"state store {self.display}: {what} failed: {code} "
                                 f"{exc.response.get('Error', {}).get('Message', '')}".rstrip(),
                                 hint="check the bucket exists and your AWS credentials may use it") from None
        except Exception as exc:  # endpoint down, no credentials, TLS
            if isinstance(exc, ModelportError):
                raise
            raise ModelportError(f"state store {self.display}: {what} failed: {type(exc).__name__}: {exc}") from None

    def get(self, key: str) -> Blob | None:
        try:
            reply = self._call(f"reading {key}", self.client.get_object, Bucket=self.bucket, Key=self._key(key))
        except self._errors.ClientError:  # NoSuchKey
            return None
        data = reply["Body"].read()
        date = reply["ResponseMetadata"]["HTTPHeaders"].get("date")
        age = (parsedate_to_datetime(date) - reply["LastModified"]).total_seconds() if date else 0.0
        return Blob(data, reply["ETag"], max(0.0, age))

    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_absent: bool = False) -> str | None:
        condition = {"IfMatch": if_match} if if_match else ({"IfNoneMatch": "*"} if if_absent else {})
        try:
            reply = self._call(f"writing {key}", self.client.put_object, Bucket=self.bucket, Key=self._key(key),
                               Body=data, ContentType="application/json", **condition)
        except self._errors.ClientError:  # 412 (or 409 for a concurrent conditional write), or gone
            return None
        return reply["ETag"]

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        try:
            self._call(f"deleting {key}", self.client.delete_object, Bucket=self.bucket, Key=self._key(key),
                       **({"IfMatch": if_match} if if_match else {}))
        except self._errors.ClientError:
            pass  # changed by someone else (or already gone): not ours to delete

    def keys(self, prefix: str) -> list[str]:
        out = []
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix))
        try:
            for page in pages:
                out += [o["Key"][len(self._key("")):] for o in page.get("Contents", [])]
        except self._errors.ClientError as exc:
            raise ModelportError(f"state store {self.display}: listing failed: "
                                 f"{exc.response.get('Error', {}).get('Code', '')}") from None
        return out


def _remember_credentials(session: Any) -> None:
    """botocore's DEBUG log shows the canonical request (session token included): register the
    secret key and token so log records and errors have them removed."""
    try:
        creds = session.get_credentials()
        frozen = creds.get_frozen_credentials() if creds else None
    except Exception:  # no credentials yet: the first call will say so
        return
    if frozen:
        remember(frozen.secret_key, frozen.token)
