"""OIP tensor decoding/encoding as pure functions."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from modelport.runtime.errors import BadRequest
from modelport.runtime.tensors import decode_tensor, encode_tensor


def tensor(datatype, shape, data, name="x"):
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


@pytest.mark.parametrize("data", [[1, 2, 3, 4, 5, 6], [[1, 2, 3], [4, 5, 6]]])
def test_flat_and_nested_data_decode_to_the_declared_shape(data):
    name, array = decode_tensor(tensor("FP32", [2, 3], data), 0)
    assert name == "x"
    assert array.dtype == np.float32 and array.shape == (2, 3)
    assert array.tolist() == [[1, 2, 3], [4, 5, 6]]


@pytest.mark.parametrize("datatype,dtype", [("BOOL", np.bool_), ("INT8", np.int8), ("INT64", np.int64),
                                            ("UINT16", np.uint16), ("FP16", np.float16), ("FP64", np.float64)])
def test_each_numeric_datatype_gives_its_numpy_type(datatype, dtype):
    data = [True, False] if datatype == "BOOL" else [1, 2]
    _, array = decode_tensor(tensor(datatype, [2], data), 0)
    assert array.dtype == dtype


def test_bytes_tensor_keeps_strings():
    _, array = decode_tensor(tensor("BYTES", [2, 1], [["a"], ["é"]]), 0)
    assert array.shape == (2, 1) and array.ravel().tolist() == ["a", "é"]


@pytest.mark.parametrize("bad,words", [
    (tensor("FP32", [2, 2], [1, 2, 3]), "needs 4 values"),
    (tensor("FP32", [2, 2], [[1, 2, 3, 4]]), "nested data has shape"),
    (tensor("FP32", [2], ["a", "b"]), "string"),
    (tensor("FP32", [2], [1, None]), "non-numeric"),
    (tensor("FP32", [2, 2], [[1, 2], [3]]), "rectangular"),
    (tensor("INT64", [2], [1.5, 2]), "non-integer"),
    (tensor("UINT8", [2], [1, 300]), "out of range"),
    (tensor("UINT8", [1], [-1]), "out of range"),
    (tensor("INT64", [1], [2**70]), "out of range"),
    (tensor("UINT64", [2], [2**64, 1]), "out of range"),
    (tensor("UINT64", [2], [2**63, 1.5]), "non-integer"),
    (tensor("BOOL", [2], [1, 0]), "integer"),
    (tensor("FP16", [1], [1e10]), "out of range"),
    (tensor("FP33", [1], [1]), "datatype"),
    (tensor("BYTES", [2], ["a", 1]), "strings"),
    (tensor("FP32", [-1], [1]), "non-negative"),
    (tensor("FP32", "2", [1, 2]), "shape"),
    (tensor("FP32", [1] * 40, [1]), "at most"),
    ({"name": "x", "datatype": "FP32", "shape": [1]}, "no data"),
    ({"datatype": "FP32", "shape": [1], "data": [1]}, "name"),
    ([1, 2], "must be an object"),
])
def test_invalid_tensors_are_bad_requests(bad, words):
    with pytest.raises(BadRequest) as caught:
        decode_tensor(bad, 0)
    assert words in caught.value.message


def test_deeply_nested_bytes_are_refused_without_recursing_forever():
    data = "s"
    for _ in range(500):
        data = [data]
    with pytest.raises(BadRequest, match="deeper"):
        decode_tensor(tensor("BYTES", [1], data), 0)


def test_encode_writes_flat_data_with_shape_and_datatype():
    out = encode_tensor("p", np.array([[0.5, 0.25]], dtype=np.float32))
    assert out["datatype"] == "FP32" and out["shape"] == [1, 2]
    assert np.asarray(out["data"]).tolist() == [0.5, 0.25]
    labels = encode_tensor("l", np.array(["setosa", "virginica"]))
    assert labels == {"name": "l", "datatype": "BYTES", "shape": [2], "data": ["setosa", "virginica"]}


def nest(flat, shape):
    if len(shape) <= 1:
        return list(flat)
    step = len(flat) // shape[0] if shape[0] else 0
    return [nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


@settings(max_examples=200, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_flat_and_nested_forms_decode_identically(shape, data):
    count = int(np.prod(shape))
    values = data.draw(st.lists(st.integers(-1000, 1000), min_size=count, max_size=count))
    _, flat = decode_tensor(tensor("INT32", shape, values), 0)
    _, nested = decode_tensor(tensor("INT32", shape, nest(values, shape)), 0)
    assert flat.shape == tuple(shape) and np.array_equal(flat, nested)
    assert flat.ravel().tolist() == values


@settings(max_examples=200, deadline=None)
@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=3), extra=st.integers(1, 3))
def test_a_value_count_other_than_the_shape_product_is_refused(shape, extra):
    count = int(np.prod(shape)) + extra
    with pytest.raises(BadRequest, match="needs"):
        decode_tensor(tensor("FP64", shape, [1.0] * count), 0)
