"""The conformance suite (modelport.testing) run for the built-in providers, one module each.

Each module defines its own ``conformance_target`` fixture (the emulator or engine it runs on);
builds are shared through one MODELPORT_HOME for the session.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def conformance_home(tmp_path_factory, docker_host, base_image):
    """One image store and wheel cache for every conformance module."""
    home = tmp_path_factory.mktemp("conformance-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELPORT_HOME", str(home))
        yield home
