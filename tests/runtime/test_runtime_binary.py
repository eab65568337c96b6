"""The Binary Tensor Data extension: tritonclient with its defaults (binary inputs and outputs)
against the runtime on real HTTP gives what JSON gives and what the model gives; every datatype
both ways; mixed JSON and binary tensors; and every lie about sizes is a 400 naming the tensor."""

import json

import httpx
import joblib
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from modelport.runtime.app import RuntimeApp
from runtime_helpers import ECHO_MODEL, EXAMPLES, config_for, custom_model, sample_request, serving
from runtime_served import serve_in_thread

INFER = "/v2/models/iris/infer"
ROWS = np.asarray(sample_request()["inputs"][0]["data"], dtype=np.float32)


@pytest.fixture(scope="module")
def iris_url():
    with serve_in_thread(RuntimeApp(config_for("iris"))) as url:
        yield url


@pytest.fixture(scope="module")
def echo_url(tmp_path_factory):
    with serve_in_thread(RuntimeApp(custom_model(tmp_path_factory.mktemp("echo"), ECHO_MODEL))) as url:
        yield url


@pytest.fixture(scope="module")
def echo_client(tmp_path_factory):
    with serving(custom_model(tmp_path_factory.mktemp("echo-inprocess"), ECHO_MODEL)) as client:
        yield client


def client_for(url: str) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url.removeprefix("http://"), network_timeout=30)


def iris_input(binary: bool = True) -> triton.InferInput:
    tensor = triton.InferInput("input", list(ROWS.shape), "FP32")
    tensor.set_data_from_numpy(ROWS, binary_data=binary)
    return tensor


def test_tritonclient_defaults_give_what_json_and_the_model_give(iris_url):
    client = client_for(iris_url)
    assert client.is_server_ready() and client.is_model_ready("iris")
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    result = client.infer("iris", [iris_input()])  # the defaults: binary input, all outputs binary
    reply = result.get_response()
    assert all("data" not in o and o["parameters"]["binary_data_size"] > 0 for o in reply["outputs"])
    as_json = httpx.post(iris_url + INFER, json=sample_request(), timeout=30).json()
    assert [o["name"] for o in reply["outputs"]] == [o["name"] for o in as_json["outputs"]] == ["predict", "predict_proba"]
    for output in as_json["outputs"]:
        got = result.as_numpy(output["name"])
        assert list(got.shape) == output["shape"] and got.dtype == np.dtype(output["datatype"].lower().replace("fp", "float"))
        assert got.ravel().tolist() == output["data"]  # bit for bit: FP64 survives JSON's shortest repr
    model = joblib.load(EXAMPLES / "iris" / "model.joblib")
    assert np.array_equal(result.as_numpy("predict"), model.predict(ROWS))
    assert np.array_equal(result.as_numpy("predict_proba"), model.predict_proba(ROWS))
    # tritonclient asked for JSON instead: the same numbers
    json_result = client.infer("iris", [iris_input(binary=False)],
                               outputs=[triton.InferRequestedOutput("predict_proba", binary_data=False)])
    assert "data" in json_result.get_response()["outputs"][0]
    assert np.array_equal(json_result.as_numpy("predict_proba"), result.as_numpy("predict_proba"))
    client.close()


def test_the_reply_sets_its_header_length_and_content_type(iris_url):
    body, json_size = triton.InferenceServerClient.generate_request_body([iris_input()], request_id="r-1")
    sent = httpx.post(iris_url + INFER, content=body, timeout=30,
                      headers={"Inference-Header-Content-Length": str(json_size)})
    assert sent.status_code == 200, sent.text
    assert sent.headers["content-type"] == "application/octet-stream"
    header_length = int(sent.headers["inference-header-content-length"])
    header = json.loads(sent.content[:header_length])
    assert header["id"] == "r-1" and header["model_name"] == "iris"
    sizes = [o["parameters"]["binary_data_size"] for o in header["outputs"]]
    assert sizes == [2 * 8, 2 * 3 * 8] and len(sent.content) == header_length + sum(sizes)
    parsed = triton.InferenceServerClient.parse_response_body(sent.content, header_length=header_length)
    assert parsed.as_numpy("predict").tolist() == [0, 2]
    # a JSON request keeps a plain JSON reply, without the header
    plain = httpx.post(iris_url + INFER, json=sample_request(), timeout=30)
    assert plain.headers["content-type"] == "application/json" and "inference-header-content-length" not in plain.headers


def test_sagemaker_invocations_take_the_binary_form_too(iris_url):
    body, json_size = triton.InferenceServerClient.generate_request_body([iris_input()])
    sent = httpx.post(iris_url + "/invocations", content=body, timeout=30,
                      headers={"Inference-Header-Content-Length": str(json_size), "Content-Type": "application/octet-stream"})
    parsed = triton.InferenceServerClient.parse_response_body(
        sent.content, header_length=int(sent.headers["inference-header-content-length"]))
    assert parsed.as_numpy("predict").tolist() == [0, 2]


VALUES = {
    "BOOL": np.array([[True, False, True], [False, False, True]]),
    "INT8": np.array([[-128, 0, 127], [1, -1, 5]], dtype=np.int8),
    "INT16": np.array([[-32768, 0, 32767], [1, -1, 5]], dtype=np.int16),
    "INT32": np.array([[-2**31, 0, 2**31 - 1], [1, -1, 5]], dtype=np.int32),
    "INT64": np.array([[-2**63, 0, 2**63 - 1], [1, -1, 5]], dtype=np.int64),
    "UINT8": np.array([[0, 255, 7], [1, 2, 3]], dtype=np.uint8),
    "UINT16": np.array([[0, 65535, 7], [1, 2, 3]], dtype=np.uint16),
    "UINT32": np.array([[0, 2**32 - 1, 7], [1, 2, 3]], dtype=np.uint32),
    "UINT64": np.array([[0, 2**64 - 1, 7], [1, 2, 3]], dtype=np.uint64),
    "FP16": np.array([[0.5, -2.25, 65504], [1e-3, 0, -0.0]], dtype=np.float16),
    "FP32": np.array([[0.1, -3.4e38, 3.4e38], [1e-30, 0, 7]], dtype=np.float32),
    "FP64": np.array([[0.1, -1.7e308, 1.7e308], [5e-324, 0, 7]], dtype=np.float64),
    "BYTES": np.array([["a", "é €", ""], ["x" * 300, "y", "\x00z"]], dtype=np.object_),
}


@pytest.mark.parametrize("datatype", list(VALUES))
def test_every_datatype_round_trips_binary_and_json_alike(echo_url, datatype):
    client = client_for(echo_url)
    values = VALUES[datatype]
    answers = {}
    for binary in (True, False):
        tensor = triton.InferInput("x", list(values.shape), datatype)
        tensor.set_data_from_numpy(values, binary_data=binary)
        result = client.infer("iris", [tensor], outputs=[triton.InferRequestedOutput("input_out", binary_data=binary)])
        output = result.get_response()["outputs"][0]
        assert output["datatype"] == datatype and output["shape"] == [2, 3]
        assert ("parameters" in output) == binary
        answers[binary] = result.as_numpy("input_out")
    if datatype == "BYTES":  # tritonclient gives binary BYTES as bytes, JSON ones as str
        answers = {k: np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else v, otypes=[object])(a)
                   for k, a in answers.items()}
    assert np.array_equal(answers[True], values) and np.array_equal(answers[False], values)
    assert answers[True].dtype == answers[False].dtype
    client.close()


def test_bytes_that_are_not_text_stay_bytes_and_come_back_unchanged(echo_url):
    client = client_for(echo_url)
    values = np.array([b"\x89PNG\r\n\x1a\n\xff\x00", b"plain"], dtype=np.object_)
    tensor = triton.InferInput("image", [2], "BYTES")
    tensor.set_data_from_numpy(values)
    assert client.infer("iris", [tensor]).as_numpy("input_out").tolist() == values.tolist()
    client.close()


def test_mixed_json_and_binary_inputs_and_outputs(echo_url):
    client = client_for(echo_url)
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([[7, 8], [9, 10]], dtype=np.int32)
    first, second = triton.InferInput("a", [2, 3], "FP32"), triton.InferInput("b", [2, 2], "INT32")
    first.set_data_from_numpy(a)                     # binary
    second.set_data_from_numpy(b, binary_data=False)  # JSON
    outputs = [triton.InferRequestedOutput("b_out"), triton.InferRequestedOutput("a_out", binary_data=False)]
    result = client.infer("iris", [first, second], outputs=outputs)
    replied = {o["name"]: o for o in result.get_response()["outputs"]}
    assert list(replied) == ["b_out", "a_out"]
    assert replied["b_out"]["parameters"]["binary_data_size"] == 16 and "data" not in replied["b_out"]
    assert replied["a_out"]["data"] == a.ravel().tolist()
    assert np.array_equal(result.as_numpy("a_out"), a) and np.array_equal(result.as_numpy("b_out"), b)
    client.close()


def test_a_bad_request_through_tritonclient_is_a_400_naming_the_tensor(iris_url):
    client = client_for(iris_url)
    tensor = triton.InferInput("input", [2, 3], "FP32")
    tensor.set_data_from_numpy(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(InferenceServerException) as raised:
        client.infer("iris", [tensor])
    assert raised.value.status() == "400" and "rejected the input" in raised.value.message()
    client.close()


# -- lies about sizes, shapes and flags: each a 400 naming what is wrong --------------------------------


def binary_request(inputs, *chunks, header_length=None, outputs=None, parameters=None):
    """A body of the extension by hand: the JSON (with ``inputs``) then ``chunks`` of raw data."""
    payload = {"inputs": inputs}
    if outputs is not None:
        payload["outputs"] = outputs
    if parameters is not None:
        payload["parameters"] = parameters
    head = json.dumps(payload).encode()
    length = len(head) if header_length is None else header_length
    return {"content": head + b"".join(chunks), "headers": {"Inference-Header-Content-Length": str(length)}}


def iris_tensor(size=32, shape=(2, 4), **extra):
    return {"name": "input", "datatype": "FP32", "shape": list(shape), "parameters": {"binary_data_size": size}, **extra}


RAW = ROWS.tobytes()  # 32 bytes
LIES = [
    ("size smaller than the shape needs", binary_request([iris_tensor(31)], RAW[:31]), "'input'", "needs 32 bytes"),
    ("size larger than the data sent", binary_request([iris_tensor(64)], RAW), "'input'", "32 bytes of binary data left"),
    ("bytes left over", binary_request([iris_tensor()], RAW, b"12345678"), "8 bytes", "add up"),
    ("huge declared size", binary_request([iris_tensor(2**62)], RAW), "'input'", "more than"),
    ("huge shape", binary_request([iris_tensor(shape=(2**40, 4))], RAW), "'input'", "does not match shape"),
    ("negative size", binary_request([iris_tensor(-1)], RAW), "'input'", "non-negative"),
    ("size as a string", binary_request([iris_tensor("32")], RAW), "'input'", "non-negative"),
    ("size as a boolean", binary_request([iris_tensor(True)], RAW), "'input'", "non-negative"),
    ("data and a binary size", binary_request([iris_tensor(data=[1] * 8)], RAW), "'input'", "both"),
    ("parameters not an object", binary_request([dict(iris_tensor(), parameters=[32])], RAW), "'input'", "object"),
    ("header longer than the body", binary_request([iris_tensor()], RAW, header_length=10**6), "Inference-Header-Content-Length", "larger"),
    ("header not a number", binary_request([iris_tensor()], RAW, header_length="12a"), "Inference-Header-Content-Length", "not a number"),
    ("header of zero", binary_request([iris_tensor()], RAW, header_length=0), "Inference-Header-Content-Length", "missing"),
    ("header cutting the JSON", binary_request([iris_tensor()], RAW, header_length=20), "malformed JSON", ""),
    ("binary_data not a boolean", binary_request([iris_tensor()], RAW, outputs=[{"name": "predict", "parameters": {"binary_data": 1}}]),
     "'predict'", "true or false"),
    ("binary_data_output not a boolean", binary_request([iris_tensor()], RAW, parameters={"binary_data_output": "yes"}),
     "binary_data_output", "true or false"),
    ("classification asked for", binary_request([iris_tensor()], RAW, outputs=[{"name": "predict", "parameters": {"classification": 2}}]),
     "'predict'", "not supported"),
    ("shared memory", binary_request([dict(iris_tensor(), parameters={"shared_memory_region": "r"})]), "'input'", "shared memory"),
]


@pytest.mark.parametrize("name,request_kwargs,names,says", LIES, ids=[c[0] for c in LIES])
def test_lies_about_binary_data_are_400_naming_the_tensor(iris_client, name, request_kwargs, names, says):
    response = iris_client.post(INFER, **request_kwargs)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert names in error and says in error, error
    assert iris_client.post(INFER, json=sample_request()).status_code == 200


def test_binary_size_without_the_header_is_a_400_naming_the_tensor(iris_client):
    response = iris_client.post(INFER, json={"inputs": [iris_tensor()]})
    assert response.status_code == 400 and "'input'" in response.json()["error"]
    assert "Inference-Header-Content-Length" in response.json()["error"]


def test_binary_body_with_a_foreign_content_type_is_415(iris_client):
    kwargs = binary_request([iris_tensor()], RAW)
    kwargs["headers"]["Content-Type"] = "image/png"
    assert iris_client.post(INFER, **kwargs).status_code == 415


def bytes_tensor(shape, size):
    return {"name": "words", "datatype": "BYTES", "shape": shape, "parameters": {"binary_data_size": size}}


def prefixed(*items):
    return b"".join(len(i).to_bytes(4, "little") + i for i in items)


BYTES_LIES = [
    ("element longer than the data", [bytes_tensor([1], 7)], (100).to_bytes(4, "little") + b"abc", "declares 100 bytes"),
    ("length prefix cut short", [bytes_tensor([2], 9)], prefixed(b"abc") + b"\x01\x00", "cut short"),
    ("fewer elements than the shape", [bytes_tensor([3], 14)], prefixed(b"abc", b"def"), "needs 3 BYTES elements"),
    ("more elements than the shape", [bytes_tensor([1], 14)], prefixed(b"abc", b"def"), "more than the 1"),
    ("huge shape", [bytes_tensor([2**40], 14)], prefixed(b"abc", b"def"), "at least"),
    ("BOOL byte that is not 0 or 1", [{"name": "flags", "datatype": "BOOL", "shape": [2], "parameters": {"binary_data_size": 2}}],
     b"\x01\x02", "0 or 1"),
]


@pytest.mark.parametrize("name,inputs,raw,says", BYTES_LIES, ids=[c[0] for c in BYTES_LIES])
def test_lying_bytes_elements_are_400_naming_the_tensor(echo_client, name, inputs, raw, says):
    response = echo_client.post(INFER, **binary_request(inputs, raw))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert repr(inputs[0]["name"]) in error and says in error, error
    good = echo_client.post(INFER, **binary_request([bytes_tensor([2], 14)], prefixed(b"abc", b"def")))
    assert good.status_code == 200 and good.headers["content-type"] == "application/json"
    assert good.json()["outputs"][0]["data"] == ["abc", "def"]
