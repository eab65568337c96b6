"""The gate test model on real engines: a tiny ``custom`` model whose model file says how it
misbehaves, so one base build serves every version (only the model layer differs).

``model.json``: ``threshold`` (class 1 when a row's sum is above it; a wrong model has another),
``sleep`` (seconds each prediction takes: slow under load) and ``fail_every`` (every n-th
prediction raises: errors on a share of requests)."""

from __future__ import annotations

import json
from pathlib import Path

PREDICT_PY = '''\
import json
import threading
import time

_calls = [0]
_lock = threading.Lock()


def load(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def predict(model, inputs):
    with _lock:
        _calls[0] += 1
        nth = _calls[0]
    if model.get("sleep"):
        time.sleep(model["sleep"])
    if model.get("fail_every") and nth % model["fail_every"] == 0:
        raise RuntimeError("planted failure")
    return {"label": [1 if sum(row) > model["threshold"] else 0 for row in inputs.tolist()]}
'''
ROWS = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [0.5, 0.5, 0.5], [9.0, 1.0, 1.0],
        [2.0, 2.0, 2.0], [7.0, 7.0, 7.0], [0.0, 1.0, 0.0], [3.0, 3.0, 4.5]]
RIGHT = 8.0  # the right model's threshold


def eval_set() -> str:
    """The evaluation set: each row's label by the right model."""
    lines = [{"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP64", "data": [row]}],
              "expected": [1 if sum(row) > RIGHT else 0]} for row in ROWS]
    return "\n".join(json.dumps(line) for line in lines) + "\n"


def write_gate_project(folder: Path, name: str, version: int, targets: str, *, threshold: float = RIGHT,
                       sleep: float = 0.0, fail_every: int = 0, gates: str = "") -> Path:
    """Version ``version`` of the gate model, deployment ``name``, with ``targets`` tables and the
    ``[rollout.analysis]`` / ``[validation]`` lines of ``gates``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "predict.py").write_text(PREDICT_PY)
    (folder / "model.json").write_text(json.dumps({"threshold": threshold, "sleep": sleep, "fail_every": fail_every}))
    (folder / "eval.jsonl").write_text(eval_set())
    (folder / "sample.json").write_text(json.dumps({"inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP64",
                                                                "data": ROWS[:2]}]}))
    (folder / "modelport.toml").write_text(f'''name = "{name}"
[model]
name = "gatemodel"
version = "{version}.0.0"
path = "model.json"
framework = "custom"
predict = "predict.py"

[serving]
sample_input = "sample.json"
expected_output_shape = [2]

[build]
base_image = "modelport-base:bookworm"

[resources]
cpu = 1
memory = "2Gi"

[rollout]
gate_timeout = 120
steps = [50, 100]

{gates}
{targets}
''')
    return folder


#: analysis and validation as the end-to-end tests set them: short bakes, a modest load
GATES = """[rollout.analysis]
bake = 2
load = 8
max_error_rate = 0.05
max_p99_ms = 150

[validation]
dataset = "eval.jsonl"
min_accuracy = 0.7
"""
