"""The only file of the aws provider that touches the AWS SDK (botocore, under boto3).

``AwsClient.call("ecs", "create_service", **kwargs)`` runs one API call with the target's region,
endpoint and CA bundle, records which IAM action it needed (``actions``, read by the tests that
prove the IAM policy), and maps every SDK error to :class:`~modelport.errors.ProviderError` with
the AWS error code. Credentials come from boto3's default chain; they never reach a message.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable

from modelport.errors import ProviderError

from .settings import AwsSettings

#: boto3 service name -> IAM action prefix
IAM_PREFIX = {"elbv2": "elasticloadbalancing", "application-autoscaling": "application-autoscaling",
              "ecs": "ecs", "ecr": "ecr", "ec2": "ec2", "iam": "iam", "logs": "logs",
              "secretsmanager": "secretsmanager", "sts": "sts", "cloudwatch": "cloudwatch"}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException",
          "AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException"}
RETRYABLE = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable",
             "InternalFailure", "InternalError", "ServerException", "RequestTimeout", "500", "503"}


class AwsClient:
    """botocore clients for one target, created lazily and cached (clients are thread-safe)."""

    def __init__(self, settings: AwsSettings, target: str) -> None:
        self.settings, self.target = settings, target
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._session = None
        self.actions: set[str] = set()

    def _boto(self, service: str):
        with self._lock:
            if service not in self._clients:
                from botocore.config import Config

                if self._session is None:
                    self._session = _new_session(self.settings.region)
                    _remember_credentials(self._session)
                config = Config(retries={"mode": "standard", "max_attempts": 4},
                                user_agent_extra="modelport")
                try:
                    # Built on first use, one per service a command calls: each loads (parses)
                    # its service model, the largest part of a short command's time.
                    self._clients[service] = self._session.create_client(
                        service, region_name=self.settings.region, endpoint_url=self.settings.endpoint_url,
                        verify=self.settings.ca_bundle if self.settings.ca_bundle else None, config=config)
                except Exception as exc:  # NoRegionError and friends
                    raise ProviderError("aws", f"create the {service} client", f"{type(exc).__name__}: {exc}",
                                        hint="set targets.NAME.region or AWS_REGION") from None
            return self._clients[service]

    @property
    def region(self) -> str:
        """The region every call goes to."""
        return self._boto("ecs").meta.region_name

    def sdk(self, service: str):
        """The raw boto3 client (for adapters that take one, e.g. EcrAuth)."""
        return self._boto(service)

    def action(self, service: str, operation: str) -> str:
        """The IAM action of a boto3 method, e.g. ``("elbv2", "create_rule")`` -> ``elasticloadbalancing:CreateRule``."""
        api = self._boto(service).meta.method_to_api_mapping.get(operation) or operation
        return f"{IAM_PREFIX.get(service, service)}:{api}"

    def call(self, service: str, operation: str, /, *, missing: Iterable[str] = (), **kwargs) -> Any:
        """One API call. Returns None when the error code is in ``missing`` (a resource that does
        not exist); any other error becomes a ProviderError."""
        client = self._boto(service)
        self.actions.add(self.action(service, operation))
        try:
            return getattr(client, operation)(**kwargs)
        except Exception as exc:
            code = _code(exc)
            if code and code in set(missing):
                return None
            raise self._error(service, operation, exc, code) from None

    def pages(self, service: str, operation: str, key: str, /, *, missing: Iterable[str] = (),
              **kwargs) -> list[Any]:
        """Every item under ``key`` across a paginated call (AWS pages lists: ListServices answers
        10 services a page). An error code in ``missing`` means no items."""
        client = self._boto(service)
        self.actions.add(self.action(service, operation))
        try:
            out: list[Any] = []
            for page in client.get_paginator(operation).paginate(**kwargs):
                out.extend(page.get(key, []))
            return out
        except Exception as exc:
            code = _code(exc)
            if code and code in set(missing):
                return []
            raise self._error(service, operation, exc, code) from None

    def _error(self, service: str, operation: str, exc: Exception, code: str | None) -> ProviderError:
        action = self.action(service, operation)
        if code in DENIED:
            return ProviderError("aws", action, f"{code}: the credentials are not allowed to call {action}",
                                 hint=f"grant the policy printed by `modelport iam-policy --to {self.target}`")
        if code:
            message = _message(exc)
            return ProviderError("aws", action, f"{code}: {message}" if message else code,
                                 retryable=code in RETRYABLE)
        name = type(exc).__name__
        if name in ("NoCredentialsError", "PartialCredentialsError", "NoRegionError"):
            return ProviderError("aws", action, f"{name}: no AWS credentials or region were found",
                                 hint="configure credentials the way boto3 finds them (AWS_PROFILE, "
                                      "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, an instance role)")
        return ProviderError("aws", action, f"{name}: {exc}", retryable=name.endswith("ConnectionError")
                             or "Timeout" in name)


def _new_session(region: str | None):
    """A botocore session: the same credential chain, config files and region resolution as
    ``boto3.session.Session`` (which wraps one), without importing boto3 and s3transfer, which
    modelport does not use; ``region`` (the target's) wins over AWS_REGION and the profile."""
    import botocore.session

    session = botocore.session.get_session()
    if region:
        session.set_config_variable("region", region)
    return session


def _remember_credentials(session) -> None:
    """botocore's DEBUG log shows the canonical request, session token included: register the
    secret key and token so every log record and error has them removed."""
    from modelport.redact import remember

    try:
        creds = session.get_credentials()
        frozen = creds.get_frozen_credentials() if creds else None
    except Exception:  # noqa: BLE001 - no credentials yet: the call itself will say so
        return
    if frozen:
        remember(frozen.secret_key, frozen.token)


def _code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or "") or None
    return None


def _message(exc: Exception) -> str:
    text = str(getattr(exc, "response", {}).get("Error", {}).get("Message") or "")
    return text[:500]
