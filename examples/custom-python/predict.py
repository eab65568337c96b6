"""A custom-Python model for modelport: nearest centroid over the iris features.

The runtime (framework = "custom") imports this file and calls:

* ``load(path)`` once, with the model path from the spec (here model.json); returns any object.
* ``predict(model, inputs)`` per request. ``inputs`` is a numpy array (the batch) when the request
  has one input tensor, or a dict of input name -> numpy array when it has several. Return an
  array-like (one output named "predict") or a dict of output name -> array-like.

Optional module attributes ``INPUTS`` / ``OUTPUTS`` describe the tensors for model metadata.
"""

import json

import numpy as np

INPUTS = [{"name": "input", "datatype": "FP64", "shape": [-1, 4]}]
OUTPUTS = [
    {"name": "predict", "datatype": "INT64", "shape": [-1]},
    {"name": "distance", "datatype": "FP64", "shape": [-1, 3]},
]


def load(path):
    """Read the centroids written by train.py."""
    with open(path, encoding="utf-8") as handle:
        spec = json.load(handle)
    return {"classes": np.asarray(spec["classes"], dtype=np.int64),
            "centroids": np.asarray(spec["centroids"], dtype=np.float64)}


def predict(model, inputs):
    """Label each row with its nearest centroid; also return the distances to every centroid."""
    rows = np.asarray(inputs, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != model["centroids"].shape[1]:
        raise ValueError(f"expected rows of {model['centroids'].shape[1]} features, got shape {list(rows.shape)}")
    distance = np.linalg.norm(rows[:, None, :] - model["centroids"][None, :, :], axis=2)
    return {"predict": model["classes"][distance.argmin(axis=1)], "distance": distance}
