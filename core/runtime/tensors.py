"""Open Inference Protocol v2 tensors: JSON <-> numpy, with the validation the protocol asks for.

A request tensor is ``{"name", "datatype", "shape", "data"}``; ``data`` is flat (row-major) or
nested like ``shape``. Values must fit the datatype (no strings in FP32, no 300 in UINT8) and the
number of values must equal the product of ``shape``. Every violation is a :class:`BadRequest`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .binary import BinarySection, binary_size, decode_binary, encode_binary
from .errors import BadRequest

MAX_DIMS = 32

NUMPY_TYPES: dict[str, Any] = {
    "BOOL": np.bool_,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
    "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
    "BYTES": np.object_,
}

# numpy dtype kinds that JSON values may arrive as for each datatype family ("i"/"u" ints,
# "f" floats, "b" booleans); ints are fine for floats because JSON writes 1.0 as 1.
_ACCEPTED_KINDS = {"BOOL": "b", "INT": "iu", "UINT": "iu", "FP": "iuf"}


@dataclass(frozen=True)
class TensorSpec:
    """Metadata of one model input or output: name, OIP datatype, shape (-1 = any size)."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def as_json(self) -> dict:
        """The tensor metadata object of the OIP model-metadata response."""
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


_DATATYPE_OF = {np.dtype(numpy_type): name for name, numpy_type in NUMPY_TYPES.items() if name != "BYTES"}


def datatype_of(dtype: np.dtype) -> str:
    """The OIP datatype name of a numpy dtype (strings and objects are BYTES)."""
    if dtype.kind in "OUS":
        return "BYTES"
    name = _DATATYPE_OF.get(dtype.newbyteorder("=") if dtype.byteorder == ">" else dtype)
    if name is None:
        raise BadRequest(f"numpy dtype {dtype} has no Open Inference Protocol datatype")
    return name


def decode_tensor(tensor: Any, index: int, binary: BinarySection | None = None) -> tuple[str, np.ndarray]:
    """Validate one request input tensor and return ``(name, array shaped as declared)``; its data
    is JSON ``data``, or the next bytes of ``binary`` when it declares ``binary_data_size``."""
    if not isinstance(tensor, dict):
        raise BadRequest(f"inputs[{index}] must be an object with name, datatype, shape and data")
    name = tensor.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest(f"inputs[{index}].name must be a non-empty string")
    datatype = tensor.get("datatype")
    if not isinstance(datatype, str) or datatype not in NUMPY_TYPES:  # a list or object is unhashable
        raise BadRequest(f"input {name!r}: datatype {datatype!r} is not one of {', '.join(NUMPY_TYPES)}")
    shape = _shape(tensor.get("shape"), name)
    size = binary_size(tensor, name)
    if size is not None:
        section = binary or BinarySection(None)
        return name, decode_binary(name, datatype, shape, section.take(name, size), NUMPY_TYPES[datatype])
    if "data" not in tensor:
        raise BadRequest(f"input {name!r} has no data")
    data = tensor["data"]
    if datatype == "BYTES":
        array = _bytes_array(data, shape, name)
    else:
        array = _numeric_array(data, datatype, shape, name)
    return name, array


def encode_tensor(name: str, value: Any, binary: list[bytes] | None = None) -> dict:
    """An OIP output tensor for a model result; numeric data stays numpy for orjson to write fast.

    With ``binary`` (a list), the data is appended to it as raw bytes instead, and the tensor
    carries ``parameters.binary_data_size`` (the Binary Tensor Data extension)."""
    array = np.asarray(value)
    datatype = datatype_of(array.dtype)
    if binary is not None:
        raw = encode_binary(array, datatype)
        binary.append(raw)
        return {"name": name, "datatype": datatype, "shape": list(array.shape),
                "parameters": {"binary_data_size": len(raw)}}
    if datatype == "BYTES":
        data: Any = [_text(item) for item in array.ravel().tolist()]
    else:
        data = np.ascontiguousarray(array.ravel())
    return {"name": name, "datatype": datatype, "shape": list(array.shape), "data": data}


def _shape(shape: Any, name: str) -> tuple[int, ...]:
    if not isinstance(shape, list) or len(shape) > MAX_DIMS:
        raise BadRequest(f"input {name!r}: shape must be a list of at most {MAX_DIMS} non-negative integers")
    for dim in shape:
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 0:
            raise BadRequest(f"input {name!r}: shape {shape} must hold non-negative integers")
    return tuple(shape)


def _numeric_array(data: Any, datatype: str, shape: tuple[int, ...], name: str) -> np.ndarray:
    try:
        array = np.array(data)
    except (ValueError, TypeError, OverflowError):
        # ragged nesting or values of mixed kinds
        raise BadRequest(f"input {name!r}: data is not a rectangular list of {datatype} values") from None
    family = datatype.rstrip("0123456789")
    expected = math.prod(shape)
    if family in ("INT", "UINT") and array.dtype.kind in "fO":
        # numpy promotes ints beyond int64 (or mixed with them) to float or object: look closer
        array = _large_integers(data, name, datatype)
    if array.size and array.dtype.kind not in _ACCEPTED_KINDS[family]:
        raise BadRequest(f"input {name!r}: data holds {_kind_name(array.dtype)} values, not {datatype}")
    if array.size != expected:
        raise BadRequest(f"input {name!r}: shape {list(shape)} needs {expected} values, data has {array.size}")
    if array.ndim > 1 and array.shape != shape:
        raise BadRequest(f"input {name!r}: nested data has shape {list(array.shape)}, declared {list(shape)}")
    target = np.dtype(NUMPY_TYPES[datatype])
    if family in ("INT", "UINT") and array.size:
        _check_range(array, target, name, datatype)
    with np.errstate(over="ignore"):  # an overflow becomes inf, refused just below
        converted = array.astype(target, copy=False).reshape(shape)
    if family == "FP" and array.size and not np.isfinite(converted).all():
        raise BadRequest(f"input {name!r}: a value is out of range for {datatype}")
    return converted


def _large_integers(data: Any, name: str, datatype: str) -> np.ndarray:
    try:
        values = np.array(data, dtype=object)
    except (ValueError, TypeError):
        raise BadRequest(f"input {name!r}: data is not a rectangular list of {datatype} values") from None
    flat = values.ravel().tolist()
    if not all(type(v) is int for v in flat):
        raise BadRequest(f"input {name!r}: data holds non-integer values, not {datatype}")
    info = np.iinfo(NUMPY_TYPES[datatype])
    if flat and (min(flat) < info.min or max(flat) > info.max):
        raise BadRequest(f"input {name!r}: value out of range for {datatype} ({info.min}..{info.max})")
    return np.array(flat, dtype=NUMPY_TYPES[datatype]).reshape(values.shape)


def _check_range(array: np.ndarray, target: np.dtype, name: str, datatype: str) -> None:
    info = np.iinfo(target)
    low, high = int(array.min()), int(array.max())
    if low < info.min or high > info.max:
        raise BadRequest(f"input {name!r}: value out of range for {datatype} ({info.min}..{info.max})")


def _bytes_array(data: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    flat: list[str] = []
    _flatten_text(data, flat, name, depth=0)
    expected = math.prod(shape)
    if len(flat) != expected:
        raise BadRequest(f"input {name!r}: shape {list(shape)} needs {expected} values, data has {len(flat)}")
    array = np.empty(len(flat), dtype=object)
    array[:] = flat
    return array.reshape(shape)


def _flatten_text(data: Any, out: list[str], name: str, depth: int) -> None:
    if depth > MAX_DIMS:
        raise BadRequest(f"input {name!r}: data is nested deeper than {MAX_DIMS} levels")
    if isinstance(data, str):
        out.append(data)
    elif isinstance(data, list):
        for item in data:
            _flatten_text(item, out, name, depth + 1)
    else:
        raise BadRequest(f"input {name!r}: BYTES data must be strings, got {type(data).__name__}")


def _kind_name(dtype: np.dtype) -> str:
    return {"b": "boolean", "i": "integer", "u": "integer", "f": "floating-point", "U": "string"}.get(
        dtype.kind, "mixed or non-numeric"
    )


def _text(item: Any) -> str:
    if isinstance(item, bytes):
        return item.decode("utf-8", errors="replace")
    return str(item)
