"""``[access] api_key`` on modelport's side: every request modelport itself sends to an endpoint
(health gates, version checks, output comparison, ``predict``, analysis traffic) carries the key.

The key reaches those callers through the one place they already ask for headers:
:meth:`Provider.endpoint_headers` (and ``Health.headers`` for one revision). :class:`KeyedProvider`
wraps the target's provider and adds the key there, so gates never learn about keys or clouds and
a provider's own headers (a platform's identity token) stay as they are.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

from ..errors import UsageError
from ..provider import Health, Provider, ProviderProxy
from ..redact import remember
from ..spec import API_KEY_ENV, LoadedSpec


def key_headers(key: str, taken: Mapping[str, str]) -> dict[str, str]:
    """The header carrying ``key``: ``Authorization: Bearer`` unless the provider's headers
    already use ``Authorization`` (a platform token), then ``X-API-Key`` (the runtime reads both)."""
    if any(name.lower() == "authorization" for name in taken):
        return {"X-API-Key": key}
    return {"Authorization": f"Bearer {key}"}


def read_api_key(loaded: LoadedSpec, native: set[str]) -> str:
    """The value of ``[access] api_key`` as modelport's own requests send it: an ``env:``/``file:``
    reference is read here; a reference the cloud resolves (its provider's secret scheme) cannot be
    read by modelport, so the value comes from ``MODELPORT_API_KEY`` in modelport's environment."""
    ref = loaded.spec.access.api_key or ""
    scheme, _, rest = ref.partition(":")
    if scheme == "env":
        value = os.environ.get(rest, "")
        hint = f"export {rest}=... before running modelport"
    elif scheme == "file":
        value, hint = _read_key_file(loaded.root, rest), "the file: reference names a readable file"
    else:
        value = os.environ.get(API_KEY_ENV, "")
        hint = (f"export {API_KEY_ENV}=<the key> for modelport's own requests (the cloud resolves "
                f"{scheme}: references for the runtime only)")
    value = value.strip()
    if not value:
        raise UsageError("access.api_key: no key to send to the endpoint", hint=hint)
    remember(value)
    return value


def _read_key_file(root: Path, rest: str) -> str:
    path = Path(rest) if Path(rest).is_absolute() else root / rest
    try:
        return path.read_text()
    except OSError as exc:
        raise UsageError(f"access.api_key: cannot read the key file ({exc.strerror})") from None


class KeyedProvider(ProviderProxy):
    """``inner`` whose ``endpoint_headers`` and ``health`` headers also carry the deployment's API
    key. The key is read on first use, so commands that send no request never need it."""

    def __init__(self, inner: Provider, loaded: LoadedSpec) -> None:
        super().__init__(inner)
        self._loaded = loaded
        self._key: str | None = None

    def _api_key(self) -> str:
        if self._key is None:
            self._key = read_api_key(self._loaded, set(self.inner.capabilities.secret_schemes))
        return self._key

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = super()._call(method, *args, **kwargs)
        if method == "endpoint_headers":
            return {**result, **key_headers(self._api_key(), result)}
        if method == "health" and isinstance(result, Health) and result.endpoint:
            return replace(result, headers={**result.headers, **key_headers(self._api_key(), result.headers)})
        return result


def with_access(provider: Provider, loaded: LoadedSpec) -> Provider:
    """``provider`` as modelport's requests to ``loaded``'s endpoints need it: keyed when the
    spec has ``[access] api_key``, else unchanged."""
    return KeyedProvider(provider, loaded) if loaded.spec.access.api_key else provider
