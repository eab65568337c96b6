"""The model interface every framework adapter implements, and the factory that picks one.

Adapters import their framework lazily (inside :func:`load_model`), so an image for an ONNX
model needs no scikit-learn and starting the runtime costs only what the model needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .config import RuntimeConfig
from .errors import BadRequest, ModelLoadError
from .tensors import TensorSpec


class ServedModel:
    """A loaded model. Subclasses set the metadata attributes and implement :meth:`infer`."""

    platform: str = ""
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    # The output that KServe v1 and SageMaker answer with as "predictions".
    primary_output: str = "predict"

    def infer(self, inputs: Mapping[str, np.ndarray], requested: tuple[str, ...] | None) -> dict[str, Any]:
        """Run the model on named input arrays; return named outputs (all, or only ``requested``).

        Raises :class:`BadRequest` when the inputs do not fit the model.
        """
        raise NotImplementedError


def instances_to_inputs(instances: list, specs: tuple[TensorSpec, ...]) -> dict[str, np.ndarray]:
    """Turn v1 ``instances`` (rows, or objects of named columns) into named input arrays."""
    if not isinstance(instances, list) or not instances:
        raise BadRequest("instances must be a non-empty list")
    if all(isinstance(item, dict) for item in instances):
        names = list(instances[0])
        return {name: _column(instances, name) for name in names}
    if any(isinstance(item, dict) for item in instances):
        raise BadRequest("instances must be all objects or all rows, not a mix")
    name = specs[0].name if specs else "input"
    return {name: _as_array(instances, name)}


def _column(instances: list[dict], name: str) -> np.ndarray:
    try:
        values = [item[name] for item in instances]
    except KeyError:
        raise BadRequest(f"every instance must have the key {name!r}") from None
    return _as_array(values, name)


def _as_array(values: list, name: str) -> np.ndarray:
    try:
        array = np.array(values)
    except (ValueError, TypeError, OverflowError):
        raise BadRequest(f"instances for {name!r} are not a rectangular list of values") from None
    if array.dtype.kind not in "biufU":
        raise BadRequest(f"instances for {name!r} hold mixed or non-numeric values")
    return array


def single_input(inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """The one input array of a single-input model (its name is not checked: any name works)."""
    if len(inputs) != 1:
        raise BadRequest(f"this model takes exactly one input tensor, the request has {len(inputs)}")
    return next(iter(inputs.values()))


def select_outputs(outputs: dict[str, Any], requested: tuple[str, ...] | None) -> dict[str, Any]:
    """Keep only the requested outputs, in request order; unknown names are a BadRequest."""
    if requested is None:
        return outputs
    unknown = [name for name in requested if name not in outputs]
    if unknown:
        raise BadRequest(f"unknown output {unknown[0]!r}; this model has {', '.join(outputs)}")
    return {name: outputs[name] for name in requested}


def find_model_file(path: Path, suffixes: tuple[str, ...]) -> Path:
    """``path`` itself when a file, else the single file in that directory with one of ``suffixes``."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise ModelLoadError(f"model path {path} does not exist")
    found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise ModelLoadError(f"model directory {path} must hold exactly one {'/'.join(suffixes)} file (found: {names})")
    return found[0]


def load_model(config: RuntimeConfig) -> ServedModel:
    """Load the model named by ``config`` with its framework's adapter (imported only now)."""
    if config.framework == "sklearn":
        from .sklearn_model import SklearnModel

        return SklearnModel.load(config.model_path)
    if config.framework == "onnx":
        from .onnx_model import OnnxModel

        return OnnxModel.load(config.model_path)
    from .custom_model import CustomModel

    assert config.predict_file is not None  # RuntimeConfig guarantees it for custom
    return CustomModel.load(config.predict_file, config.model_path)
