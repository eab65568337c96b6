"""The Binary Tensor Data extension of the Open Inference Protocol, as Triton and KServe define it.

Request: the header ``Inference-Header-Content-Length: N`` says the first N bytes of the body
are the JSON inference request; the bytes after it are the raw data of every input whose
``parameters`` hold ``binary_data_size``, concatenated in the order of ``inputs``. Raw data is
little-endian, row-major, without padding; BOOL is one byte (0 or 1); BYTES is, per element, a
4-byte little-endian unsigned length followed by that many bytes. A BYTES element that is valid
UTF-8 reaches the model as ``str``, exactly as the same element sent as JSON does; any other
element (an image, say) as ``bytes``.

Response: an output is sent as raw data when its request entry has ``parameters.binary_data``
true, or (without that) when the request's ``parameters.binary_data_output`` is true. Such an
output carries ``parameters.binary_data_size`` instead of ``data``; its bytes follow the JSON, and
the reply's ``Inference-Header-Content-Length`` gives the JSON's length.

Every inconsistency (a length that lies, data cut short, a size the shape cannot hold, bytes left
over) is a 400 naming the tensor. Sizes are checked against what actually arrived before any
array is made, so a huge declared size costs nothing.

Sources: https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_binary_data.md
and https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol/binary-tensor-data-extension
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import BadRequest, UnsupportedMediaType
from .httpio import Request, is_json_type, loads

HEADER = "inference-header-content-length"
OCTET_STREAM = "application/octet-stream"
_LENGTH_PREFIX = 4


def split_body(request: Request) -> tuple[Any, memoryview | None]:
    """The parsed JSON inference request and the binary section after it (None without the header)."""
    declared = request.headers.get(HEADER)
    if declared is None:
        if not is_json_type(request.media_type):
            raise UnsupportedMediaType(f"Content-Type {request.media_type!r} is not supported here; send "
                                       f"application/json, or binary tensors with Inference-Header-Content-Length")
        return loads(request.body), None
    if not (is_json_type(request.media_type) or request.media_type == OCTET_STREAM):
        raise UnsupportedMediaType(f"Content-Type {request.media_type!r} is not supported with binary tensors; "
                                   f"send {OCTET_STREAM} or application/json")
    if not declared.isdigit():
        raise BadRequest(f"Inference-Header-Content-Length {declared!r} is not a number of bytes")
    length = int(declared)
    if length > len(request.body):
        raise BadRequest(f"Inference-Header-Content-Length {length} is larger than the body ({len(request.body)} bytes)")
    if length == 0:
        raise BadRequest("Inference-Header-Content-Length is 0: the JSON inference request is missing")
    view = memoryview(request.body)
    return loads(view[:length]), view[length:]


def binary_size(tensor: dict, name: str) -> int | None:
    """The input's ``parameters.binary_data_size`` (None when it is sent as JSON)."""
    parameters = tensor.get("parameters")
    if parameters is None:
        return None
    if not isinstance(parameters, dict):
        raise BadRequest(f"input {name!r}: parameters must be an object")
    if "shared_memory_region" in parameters:
        raise BadRequest(f"input {name!r}: shared memory is not supported by this server; send the data in the body")
    size = parameters.get("binary_data_size")
    if size is None:
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise BadRequest(f"input {name!r}: binary_data_size must be a non-negative integer, got {size!r}")
    if "data" in tensor:
        raise BadRequest(f"input {name!r} has both data and binary_data_size; send one")
    return size


class BinarySection:
    """The binary data after the JSON, handed out input by input in request order."""

    def __init__(self, data: memoryview | None) -> None:
        self.data = data
        self.offset = 0

    def take(self, name: str, size: int) -> memoryview:
        """The next ``size`` bytes for input ``name``; 400 when fewer are left."""
        if self.data is None:
            raise BadRequest(f"input {name!r} declares binary_data_size but the request has no "
                             f"Inference-Header-Content-Length header, so no binary data")
        left = len(self.data) - self.offset
        if size > left:
            raise BadRequest(f"input {name!r}: binary_data_size {size} is more than the {left} bytes of "
                             f"binary data left in the body")
        chunk = self.data[self.offset:self.offset + size]
        self.offset += size
        return chunk

    def finish(self) -> None:
        """400 when bytes are left that no input claimed (the sizes do not add up)."""
        if self.data is not None and self.offset != len(self.data):
            raise BadRequest(f"{len(self.data) - self.offset} bytes of binary data follow the inputs' "
                             f"binary_data_size total ({self.offset}); the sizes must add up to the body")


def decode_binary(name: str, datatype: str, shape: tuple[int, ...], raw: memoryview, dtype: Any) -> np.ndarray:
    """An input array from its raw bytes (``dtype`` is the datatype's numpy type)."""
    count = math.prod(shape)
    if datatype == "BYTES":
        return _bytes_elements(name, shape, count, raw)
    little = np.dtype(dtype).newbyteorder("<")
    expected = count * little.itemsize
    if len(raw) != expected:
        raise BadRequest(f"input {name!r}: binary_data_size {len(raw)} does not match shape {list(shape)} of "
                         f"{datatype}, which needs {expected} bytes")
    if datatype == "BOOL" and count and np.frombuffer(raw, np.uint8).max() > 1:
        raise BadRequest(f"input {name!r}: BOOL bytes must be 0 or 1")
    # a copy in native byte order: the model may write to its input, as it can to a JSON one
    return np.frombuffer(raw, little).astype(np.dtype(dtype), copy=True).reshape(shape)


def _bytes_elements(name: str, shape: tuple[int, ...], count: int, raw: memoryview) -> np.ndarray:
    offset, size = 0, len(raw)
    if count * _LENGTH_PREFIX > size:  # refused before looping over a count the data cannot hold
        raise BadRequest(f"input {name!r}: shape {list(shape)} needs {count} BYTES elements, at least "
                         f"{count * _LENGTH_PREFIX} bytes; binary_data_size is {size}")
    elements: list[str | bytes] = []
    while offset < size:
        if len(elements) == count:
            raise BadRequest(f"input {name!r}: BYTES data holds more than the {count} elements of shape {list(shape)}")
        if offset + _LENGTH_PREFIX > size:
            raise BadRequest(f"input {name!r}: BYTES element {len(elements)} is cut short in its 4-byte length")
        length = int.from_bytes(raw[offset:offset + _LENGTH_PREFIX], "little")
        offset += _LENGTH_PREFIX
        if offset + length > size:
            raise BadRequest(f"input {name!r}: BYTES element {len(elements)} declares {length} bytes, "
                             f"only {size - offset} are left")
        elements.append(_text_or_bytes(raw[offset:offset + length]))
        offset += length
    if len(elements) != count:
        raise BadRequest(f"input {name!r}: shape {list(shape)} needs {count} BYTES elements, data has {len(elements)}")
    array = np.empty(count, dtype=object)
    array[:] = elements
    return array.reshape(shape)


def _text_or_bytes(element: memoryview) -> str | bytes:
    # what JSON can carry arrives as the str it would be from JSON, so a model sees the same input
    # whichever form the client chose; only what JSON cannot carry (not UTF-8) stays bytes
    data = bytes(element)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def encode_binary(array: np.ndarray, datatype: str) -> bytes:
    """The raw bytes of an output array, as the extension lays them out."""
    if datatype == "BYTES":
        return b"".join(_prefixed(item) for item in array.ravel().tolist())
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def _prefixed(item: Any) -> bytes:
    data = item if isinstance(item, bytes) else str(item).encode("utf-8")
    return len(data).to_bytes(_LENGTH_PREFIX, "little") + data
