"""A fixed bearer-token credential for tests against the emulator."""
from __future__ import annotations

import time

from azure.core.credentials import AccessToken


class StaticTokenCredential:
    """Any object with ``get_token`` is an azure-core credential; this one never expires."""

    def __init__(self, token: str = "emulator-token"):
        self._token = token

    def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        """Return the fixed token, valid for an hour from now."""
        return AccessToken(self._token, int(time.time()) + 3600)
