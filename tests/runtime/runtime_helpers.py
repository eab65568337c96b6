"""Helpers of the runtime tests: configs for the example models, serving them in-process.

A uniquely named module (not conftest) so `from runtime_helpers import ...` is never ambiguous
with the other test folders' conftest files.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from starlette.testclient import TestClient

from modelport.runtime.app import RuntimeApp
from modelport.runtime.config import RuntimeConfig

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def config_for(example: str, **overrides) -> RuntimeConfig:
    """A RuntimeConfig serving ``examples/<example>`` as the model named "iris"."""
    folder = EXAMPLES / example
    settings = {"model_name": "iris", "model_version": "1"}
    if example == "onnx-iris":
        settings.update(framework="onnx", model_path=folder / "model.onnx")
    elif example == "custom-python":
        settings.update(framework="custom", model_path=folder / "model.json", predict_file=folder / "predict.py")
    else:
        settings.update(framework="sklearn", model_path=folder / "model.joblib")
    settings.update(overrides)
    return RuntimeConfig(**settings)


@contextmanager
def serving(config: RuntimeConfig, wait: bool = True) -> Iterator[TestClient]:
    """Run the app (lifespan included) in-process and yield a client; waits for the model load."""
    app = RuntimeApp(config)
    with TestClient(app, raise_server_exceptions=True) as client:
        if wait:
            assert app.host.wait_loaded(60), "model did not finish loading"
        client.app_under_test = app
        yield client


def sample_request(example: str = "iris") -> dict:
    """The committed OIP request body of an example."""
    return json.loads((EXAMPLES / example / "sample.json").read_text())
