"""The example iris model in its two versions, as the end-to-end tests see it: the sample request,
the answers of each version computed in this process, and which version answered at an endpoint.

One tolerance for every test: a reply is version N when its labels are version N's and its
probabilities are within ``ATOL`` of version N's (float32 rounding in the server is ~1e-7; the
two versions' probabilities differ by more than 0.07).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import httpx
import joblib
import numpy as np

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SAMPLE = json.loads((EXAMPLES / "iris" / "sample.json").read_text())
SOURCES = {"1": "iris", "2": "iris-v2"}
ATOL = 1e-5


@cache
def in_process(version: str) -> tuple[list, list]:
    """(labels, probabilities) of iris ``version`` ("1"/"2") run in this process on the sample."""
    rows = np.array(SAMPLE["inputs"][0]["data"], dtype=np.float32)
    model = joblib.load(EXAMPLES / SOURCES[version] / "model.joblib")
    return model.predict(rows).tolist(), model.predict_proba(rows).ravel().tolist()


def version_of(reply: dict) -> str:
    """Which iris version ("1"/"2") produced an OIP v2 infer reply to the sample."""
    outputs = {o["name"]: o["data"] for o in reply["outputs"]}
    for version in SOURCES:
        labels, probs = in_process(version)
        if outputs["predict"] == labels and np.allclose(outputs["predict_proba"], probs, atol=ATOL):
            return version
    raise AssertionError(f"the reply matches neither iris version: {outputs}")


def served_version(endpoint: str, headers: dict | None = None) -> str:
    """POST the sample to ``endpoint`` and say which iris version ("1"/"2") answered."""
    reply = httpx.post(f"{endpoint}/v2/models/iris/infer", json=SAMPLE, headers=headers or {}, timeout=30)
    if reply.status_code != 200:
        raise AssertionError(f"{endpoint} answered {reply.status_code}: {reply.text[:300]}")
    try:
        return version_of(reply.json())
    except AssertionError as exc:
        raise AssertionError(f"{endpoint}: {exc}") from None
