"""ONNX adapter: an .onnx file run by onnxruntime on CPU.

Input and output names, types and shapes come from the session. Request arrays are cast to the
input's element type (JSON numbers arrive as int64/float64; the graph usually wants float32).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .errors import BadRequest, ModelLoadError
from .frameworks import ServedModel, find_model_file, select_outputs
from .tensors import TensorSpec

# onnxruntime's type strings -> (OIP datatype, numpy dtype)
ONNX_TYPES = {
    "tensor(bool)": ("BOOL", np.bool_),
    "tensor(int8)": ("INT8", np.int8), "tensor(int16)": ("INT16", np.int16),
    "tensor(int32)": ("INT32", np.int32), "tensor(int64)": ("INT64", np.int64),
    "tensor(uint8)": ("UINT8", np.uint8), "tensor(uint16)": ("UINT16", np.uint16),
    "tensor(uint32)": ("UINT32", np.uint32), "tensor(uint64)": ("UINT64", np.uint64),
    "tensor(float16)": ("FP16", np.float16), "tensor(float)": ("FP32", np.float32),
    "tensor(double)": ("FP64", np.float64), "tensor(string)": ("BYTES", np.object_),
}


class OnnxModel(ServedModel):
    """An onnxruntime InferenceSession; outputs are the graph's outputs."""

    platform = "onnxruntime_onnx"

    def __init__(self, session: Any) -> None:
        self.session = session
        self.inputs = tuple(_spec(node) for node in session.get_inputs())
        self.outputs = tuple(_spec(node) for node in session.get_outputs())
        self._dtypes = {node.name: ONNX_TYPES.get(node.type, (None, None))[1] for node in session.get_inputs()}
        names = [spec.name for spec in self.outputs]
        self.primary_output = "predict" if "predict" in names else (names[0] if names else "")

    @classmethod
    def load(cls, path: Path) -> "OnnxModel":
        """Open ``path`` (an .onnx file or a directory holding one) in a CPU session."""
        file = find_model_file(path, (".onnx",))
        try:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3  # warnings of the optimizer are not the user's business
            session = onnxruntime.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelLoadError(f"cannot load ONNX model {file}: {exc}") from exc
        return cls(session)

    def infer(self, inputs: Mapping[str, np.ndarray], requested: tuple[str, ...] | None) -> dict[str, Any]:
        """Feed the named inputs (cast to the graph's types) and return the requested outputs."""
        feeds = self._feeds(inputs)
        names = [spec.name for spec in self.outputs]
        wanted = list(select_outputs(dict.fromkeys(names), requested))
        try:
            values = self.session.run(wanted, feeds)
        except Exception as exc:
            raise _run_error(exc) from exc
        return dict(zip(wanted, values))

    def _feeds(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        expected = [spec.name for spec in self.inputs]
        if len(expected) == 1 and len(inputs) == 1:
            # one input: accept any name, as for the other frameworks
            inputs = {expected[0]: next(iter(inputs.values()))}
        missing = [name for name in expected if name not in inputs]
        extra = [name for name in inputs if name not in expected]
        if missing or extra:
            raise BadRequest(f"this model takes inputs {expected}; missing {missing}, unknown {extra}")
        return {name: _cast(inputs[name], self._dtypes[name], name) for name in expected}


def _spec(node: Any) -> TensorSpec:
    datatype = ONNX_TYPES.get(node.type, (node.type, None))[0]
    shape = tuple(dim if isinstance(dim, int) else -1 for dim in (node.shape or []))
    return TensorSpec(node.name, datatype, shape)


def _cast(array: np.ndarray, dtype: Any, name: str) -> np.ndarray:
    if dtype is None or array.dtype == dtype:
        return array
    if (array.dtype.kind in "OUS") != (np.dtype(dtype).kind == "O"):
        raise BadRequest(f"input {name!r} needs {np.dtype(dtype).name} values, got {array.dtype.name}")
    return array.astype(dtype)


def _run_error(exc: Exception) -> Exception:
    # onnxruntime reports bad ranks/dims as InvalidArgument; anything else is the model's failure
    if type(exc).__name__ in ("InvalidArgument", "InvalidGraph") or "invalid" in str(exc).lower()[:200]:
        return BadRequest(f"the model rejected the input: {exc}")
    return exc
