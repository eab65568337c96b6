"""Custom-Python adapter: a predict.py that defines ``load(path)`` and ``predict(model, inputs)``.

``predict`` receives one numpy array when the request has one input tensor, else a dict of input
name -> array. It returns an array-like (served as the output ``predict``) or a dict of output
name -> array-like. Optional module attributes ``INPUTS`` / ``OUTPUTS`` (lists of
``{"name", "datatype", "shape"}``) fill the model metadata. ``ValueError``/``TypeError``/
``KeyError`` raised by ``predict`` mean "bad input" (400); anything else is a model failure (500).
``predict`` may run on several threads at once; set MODELPORT_PREDICT_THREADS=0 for a model
that is not thread-safe (every call then runs on the event loop, one at a time).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .errors import BadRequest, ModelLoadError
from .frameworks import ServedModel, select_outputs
from .tensors import TensorSpec

MODULE_NAME = "modelport_user_predict"


class CustomModel(ServedModel):
    """The user's predict module plus the object its ``load`` returned."""

    platform = "custom_python"

    def __init__(self, module: Any, model: Any) -> None:
        self.module = module
        self.model = model
        self.inputs = _specs(getattr(module, "INPUTS", ()), "INPUTS")
        self.outputs = _specs(getattr(module, "OUTPUTS", ()), "OUTPUTS")
        if self.outputs and "predict" not in {spec.name for spec in self.outputs}:
            self.primary_output = self.outputs[0].name

    @classmethod
    def load(cls, predict_file: Path, model_path: Path) -> "CustomModel":
        """Import ``predict_file`` and call its ``load(str(model_path))``."""
        module = _import(predict_file)
        for name in ("load", "predict"):
            if not callable(getattr(module, name, None)):
                raise ModelLoadError(f"{predict_file} must define a function {name}()")
        try:
            model = module.load(str(model_path))
        except Exception as exc:
            raise ModelLoadError(f"{predict_file}: load({str(model_path)!r}) failed: {exc}") from exc
        return cls(module, model)

    def infer(self, inputs: Mapping[str, np.ndarray], requested: tuple[str, ...] | None) -> dict[str, Any]:
        """Call the user's predict and name its result(s)."""
        argument: Any = next(iter(inputs.values())) if len(inputs) == 1 else dict(inputs)
        try:
            result = self.module.predict(self.model, argument)
        except (ValueError, TypeError, KeyError) as exc:
            raise BadRequest(f"the model rejected the input: {exc}") from exc
        outputs = dict(result) if isinstance(result, dict) else {"predict": result}
        return select_outputs(outputs, requested)


def _import(predict_file: Path) -> Any:
    if not predict_file.is_file():
        raise ModelLoadError(f"predict file {predict_file} does not exist")
    spec = importlib.util.spec_from_file_location(MODULE_NAME, predict_file)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"cannot import {predict_file} as Python")
    module = importlib.util.module_from_spec(spec)
    # its directory first on sys.path, so predict.py can import helper modules shipped beside it
    sys.path.insert(0, str(predict_file.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ModelLoadError(f"importing {predict_file} failed: {type(exc).__name__}: {exc}") from exc
    return module


def _specs(items: Any, attribute: str) -> tuple[TensorSpec, ...]:
    try:
        return tuple(TensorSpec(str(i["name"]), str(i["datatype"]), tuple(int(d) for d in i["shape"])) for i in items)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"predict.py {attribute} must be a list of {{name, datatype, shape}}: {exc}") from exc
