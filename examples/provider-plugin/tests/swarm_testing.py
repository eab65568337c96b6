"""Shared by the tests of modelport-swarm (imported by conftest.py and the test modules)."""

from __future__ import annotations

import os
from importlib.metadata import entry_points

#: a Python 3.11 image the engine has (modelport images are built on it)
BASE_IMAGE = os.environ.get("MODELPORT_BASE_IMAGE", "modelport-base:bookworm")


def plugins() -> dict[str, object] | None:
    """The plugin module when it is not installed (no entry point: tests of a source checkout);
    None when it is, so modelport finds it the way users' installs do."""
    if any(ep.name == "swarm" for ep in entry_points(group="modelport.providers")):
        return None
    import modelport_swarm.plugin

    return {"swarm": modelport_swarm.plugin}
