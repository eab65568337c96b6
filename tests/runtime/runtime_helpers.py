"""Helpers of the runtime tests: configs for the example models, serving them in-process.

A uniquely named module (not conftest) so `from runtime_helpers import ...` is never ambiguous
with the other test folders' conftest files.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
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
    """Run the app (lifespan included) in-process and yield a client; waits for the model load.
    The access log goes to ``client.access_log`` (see :func:`capture_access_log`)."""
    app = RuntimeApp(config)
    access_log = capture_access_log(app)
    with TestClient(app, raise_server_exceptions=True) as client:
        client.access_log = access_log
        if wait:
            assert app.host.wait_loaded(60), "model did not finish loading"
        client.app_under_test = app
        yield client


def sample_request(example: str = "iris") -> dict:
    """The committed OIP request body of an example."""
    return json.loads((EXAMPLES / example / "sample.json").read_text())


def custom_model(folder: Path, source: str, **overrides) -> RuntimeConfig:
    """A RuntimeConfig serving a custom predict.py with ``source`` (dedented), written to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "predict.py").write_text(textwrap.dedent(source))
    (folder / "model.txt").write_text("m")
    return config_for("iris", framework="custom", predict_file=folder / "predict.py",
                      model_path=folder / "model.txt", **overrides)


# Echoes every input back as the output "<name>_out", so a tensor can be checked both ways.
ECHO_MODEL = """
    def load(path):
        return None

    def predict(model, inputs):
        if not isinstance(inputs, dict):
            inputs = {"input": inputs}
        return {f"{name}_out": value for name, value in inputs.items()}
"""


def logged(client: TestClient) -> list[dict]:
    """The access-log records of an in-process client so far (lines are written once per loop
    turn, so the loop is let turn once first)."""
    client.portal.call(asyncio.sleep, 0)
    return list(client.access_log)


def capture_access_log(app: RuntimeApp) -> list[dict]:
    """Send the app's access-log lines to the returned list (parsed) instead of standard output."""
    records: list[dict] = []
    if app.access_log is not None:
        app.access_log.write = lambda data: records.extend(json.loads(line) for line in data.splitlines())
    return records
