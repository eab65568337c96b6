"""Hostile inference requests to the serving runtime, started as the image starts it (``python -m
modelport_runtime serve`` on uvicorn) with the iris example: huge bodies, lying Content-Length,
deep JSON, wrong types and shapes, non-JSON, a gzip bomb, long URLs and headers, unknown models,
on every protocol route; and the binary form (Binary Tensor Data extension) with lying header
lengths and tensor sizes, truncated data and huge declared sizes. Each gets a 4xx; afterwards the
server answers a normal request and its memory has not run away.
"""

from __future__ import annotations

import functools
import gzip
import json
import socket
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, event, example, given, settings, strategies as st

from tests.runtime.runtime_served import start, stop, wait_ready

IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris"
SAMPLE = json.loads((IRIS / "sample.json").read_text())
INFER, PREDICT, INVOCATIONS = "/v2/models/iris/infer", "/v1/models/iris:predict", "/invocations"
ROUTES = (INFER, PREDICT, INVOCATIONS)
MiB = 1024 * 1024
LIMIT = 16 * MiB  # the runtime's default MODELPORT_MAX_BODY_BYTES
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Server:
    """The runtime process, an HTTP client on it, and its resident memory."""

    def __init__(self, process, url: str) -> None:
        self.process, self.url = process, url
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)
        self.client = httpx.Client(base_url=url, timeout=60)
        self.baseline_mib = 0

    def rss_mib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
        raise AssertionError("no VmRSS")

    def assert_alive(self) -> None:
        """Still running, still ready, a normal request still predicts, memory within bounds."""
        assert self.process.poll() is None, "the runtime exited"
        assert self.client.get("/v2/health/ready").status_code == 200
        normal = self.client.post(INFER, json=SAMPLE)
        assert normal.status_code == 200 and normal.json()["outputs"], normal.text
        # a 64 MiB body that was read whole, or a bomb that was inflated, would show here
        assert self.rss_mib() < self.baseline_mib + 256, (self.baseline_mib, self.rss_mib())

    def raw(self, data: bytes, close_early: bool = False) -> bytes:
        """Send ``data`` on a fresh connection and return the start of the answer ('' if none)."""
        with socket.create_connection((self.host, self.port), timeout=30) as sock:
            try:
                sock.sendall(data)
                if close_early:
                    return b""
                return sock.recv(4096)
            except (BrokenPipeError, ConnectionResetError):
                return b""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    env = {"MODELPORT_MODEL_NAME": "iris", "MODELPORT_MODEL_VERSION": "1", "MODELPORT_FRAMEWORK": "sklearn",
           "MODELPORT_MODEL_PATH": str(IRIS / "model.joblib")}
    process, url = start(tmp, env)
    try:
        wait_ready(url, process)
        srv = Server(process, url)
        for _ in range(20):  # warm up: lazy imports and arenas settle before the baseline
            srv.client.post(INFER, json=SAMPLE)
        srv.baseline_mib = srv.rss_mib()
        yield srv
        srv.client.close()
    finally:
        stop(process)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def assert_4xx(response: httpx.Response, *allowed: int) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if allowed:
        assert response.status_code in allowed, (response.status_code, response.text[:300])
    assert isinstance(response.json()["error"], str), response.text[:300]


# -- size: bodies, Content-Length, URL, headers -----------------------------------------------------------

@pytest.mark.parametrize("route", ROUTES)
def test_huge_body_is_413(server, route):
    body = b'{"inputs": [' + b"1," * (32 * MiB) + b"1]}"  # 64 MiB
    assert_4xx(server.client.post(route, content=body, headers={"content-type": "application/json"}), 413)

    def stream():  # no Content-Length: the limit is enforced while reading
        chunk = b" " * MiB
        for _ in range(LIMIT // MiB + 8):
            yield chunk

    try:
        streamed = server.client.post(route, content=stream(), headers={"content-type": "application/json"})
        assert_4xx(streamed, 413)
    except httpx.WriteError:
        pass  # the server answered and closed while we were still sending: it read no more
    server.assert_alive()


LYING = [
    ("declares 100 TB", b"Content-Length: 99999999999999\r\n\r\n{}", (413,)),
    ("declares less than sent", b"Content-Length: 2\r\n\r\n{}garbage that is not a request\r\n\r\n", None),
    ("negative", b"Content-Length: -5\r\n\r\n{}", (400,)),
    ("not a number", b"Content-Length: 1e3\r\n\r\n{}", (400,)),
    ("two lengths", b"Content-Length: 2\r\nContent-Length: 50\r\n\r\n{}", (400,)),
    ("length and chunked", b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", (400,)),
]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("name,head,statuses", LYING, ids=[c[0] for c in LYING])
def test_lying_content_length(server, route, name, head, statuses):
    answer = server.raw(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" % route.encode() + head)
    status = status_of(answer)
    assert 400 <= status < 500, answer[:200]
    if statuses:
        assert status in statuses, answer[:200]
    server.assert_alive()


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("head", [b"Content-Length: 1000000\r\n\r\n{\"inputs\": [",
                                  b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n"],
                         ids=["content-length", "chunk size"])
def test_body_shorter_than_declared_then_gone(server, route, head):
    """The server cannot know the declared size is a lie until the client leaves: then it forgets."""
    server.raw(b"POST %s HTTP/1.1\r\nHost: x\r\n" % route.encode() + head, close_early=True)
    server.assert_alive()


@pytest.mark.parametrize("what,request_bytes,statuses", [
    ("1 MB path", b"GET /v2/models/" + b"a" * MiB + b" HTTP/1.1\r\nHost: x\r\n\r\n", (400, 414)),
    ("20 KB model name", b"POST /v2/models/" + b"a" * 20_000 + b"/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
     (414,)),
    ("20 KB query", b"POST /invocations?" + b"q=1&" * 5_000 + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", (414,)),
    ("1 MB header", b"POST /invocations HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * MiB + b"\r\nContent-Length: 2\r\n\r\n{}",
     (431,)),
    ("20000 headers", b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(20_000))
     + b"Content-Length: 2\r\n\r\n{}", (431,)),
    ("not HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, (400,)),
    ("header without colon", b"GET /v2/health/ready HTTP/1.1\r\nHost x\r\n\r\n", (400,)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_long_urls_and_headers_are_4xx(server, what, request_bytes, statuses):
    status = status_of(server.raw(request_bytes))
    assert status in statuses, (what, status)
    server.assert_alive()


# -- content: deep, compressed, not JSON -------------------------------------------------------------------

@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("depth", [1_025, 100_000])
@pytest.mark.parametrize("opener,closer", [(b"[", b"]"), (b'{"a":', b"}")])
def test_deeply_nested_json_is_400(server, route, depth, opener, closer):
    body = opener * depth + (b"1" if opener != b"[" else b"") + closer * depth
    assert_4xx(server.client.post(route, content=body, headers={"content-type": "application/json"}), 400)
    server.assert_alive()


@functools.cache
def gzip_bomb() -> bytes:
    """512 MiB of JSON in about half a MiB: gzip members may be concatenated, so 1 MiB is compressed
    once and repeated (a decoder that honoured Content-Encoding would inflate all of it)."""
    one = gzip.compress(b"1," * (MiB // 2), 9)
    assert len(gzip.decompress(one)) == MiB
    return gzip.compress(b"[") + one * 512 + gzip.compress(b"1]")


@pytest.mark.parametrize("route", ROUTES)
def test_gzip_bomb_is_not_inflated(server, route):
    bomb = gzip_bomb()
    assert len(bomb) < 2 * MiB
    response = server.client.post(route, content=bomb, headers={"content-type": "application/json",
                                                                 "content-encoding": "gzip"})
    assert_4xx(response, 400, 415)
    server.assert_alive()


# -- hypothesis: anything JSON, wrong types and shapes, unknown models --------------------------------------

JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.floats(allow_nan=False),
              st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=8), inner, max_size=6)),
    max_leaves=40,
)
MEDIA = st.sampled_from(["application/json", "", "application/vnd.api+json", "text/csv", "text/plain",
                         "application/json; charset=latin-1", "multipart/form-data; boundary=x", "*/*"])


@FUZZ
@given(route=st.sampled_from(ROUTES), body=st.one_of(JSON.map(lambda v: json.dumps(v).encode()),
                                                     st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
       media=MEDIA)
@example(route=INVOCATIONS, body=b"1,2,3,4\n1,2,x,4", media="text/csv")
@example(route=INFER, body=b"\xff\xfe{", media="application/json")
@example(route=PREDICT, body=b"null", media="application/json")
def test_any_body_on_any_route_is_answered_never_5xx(server, route, body, media):
    headers = {"content-type": media} if media else {}
    response = server.client.post(route, content=body, headers=headers)
    event(f"{route} -> {response.status_code}")
    assert response.status_code == 200 or 400 <= response.status_code < 500, (response.status_code, response.text)
    if response.status_code != 200:
        assert isinstance(response.json()["error"], str)


WRONG = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.floats(), st.text(max_size=10),
                  st.lists(st.one_of(st.text(max_size=3), st.none(), st.booleans()), min_size=1, max_size=4),
                  st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))
TENSOR = SAMPLE["inputs"][0]


@st.composite
def broken_tensor_request(draw):
    """An OIP request that cannot be valid: one tensor field of a wrong type, or values that do not
    fit the declared datatype and shape."""
    field = draw(st.sampled_from(["name", "datatype", "shape", "data", "inputs", "outputs", "id", "values"]))
    tensor = dict(TENSOR)
    body: dict = {"inputs": [tensor]}
    if field == "name":
        tensor["name"] = draw(WRONG.filter(lambda v: not (isinstance(v, str) and v)))
    elif field == "datatype":
        tensor["datatype"] = draw(st.one_of(WRONG, st.sampled_from(["FLOAT", "fp32", "STRING", "INT128", ""])).filter(
            lambda v: v not in ("FP32", "FP64", "FP16", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16",
                                "UINT32", "UINT64", "BOOL", "BYTES")))
    elif field == "shape":
        tensor["shape"] = draw(st.one_of(
            WRONG.filter(lambda v: not isinstance(v, list) or v == []),
            st.lists(st.integers(-(2 ** 70), 2 ** 70), min_size=1, max_size=40).filter(lambda s: s != [2, 4])))
        if tensor["shape"] == []:
            tensor["shape"] = [-1]
    elif field == "data":
        tensor["data"] = draw(st.one_of(
            st.lists(st.text(max_size=3), min_size=8, max_size=8),                       # strings in FP32
            st.lists(st.floats(), min_size=0, max_size=20).filter(lambda d: len(d) != 8),  # wrong count
            st.lists(st.lists(st.floats(allow_nan=False), max_size=5), max_size=3).filter(  # ragged / wrong nesting
                lambda d: [len(row) for row in d] != [4, 4]),
            st.sampled_from([[1e39] * 8, [float("1e400")] * 8, [[[[[[[[1]]]]]]]], None, {}, "data"])))
    elif field == "inputs":
        body["inputs"] = draw(st.one_of(WRONG, st.just([]), st.lists(WRONG, min_size=1, max_size=3)))
    elif field == "outputs":
        body["outputs"] = draw(st.one_of(WRONG.filter(lambda v: v is not None and not (isinstance(v, list) and not v)),
                                         st.lists(st.fixed_dictionaries({"name": st.text(max_size=8).filter(
                                             lambda n: n not in ("predict", "predict_proba"))}), min_size=1, max_size=2)))
    elif field == "id":
        body["id"] = draw(WRONG.filter(lambda v: not isinstance(v, str) and v is not None))
    else:  # valid types, values out of range for the datatype
        tensor["datatype"] = draw(st.sampled_from(["UINT8", "INT8", "INT16", "FP16"]))
        tensor["data"] = [draw(st.integers(70_000, 2 ** 70)), *TENSOR["data"][1:]] if not isinstance(
            TENSOR["data"][0], list) else [[draw(st.integers(70_000, 2 ** 70))] * 4, *TENSOR["data"][1:]]
    return field, body


@FUZZ
@given(case=broken_tensor_request(), route=st.sampled_from([INFER, INVOCATIONS]))
@example(case=("shape", {"inputs": [dict(TENSOR, shape=[2 ** 63, 2 ** 63])]}), route=INFER)
@example(case=("shape", {"inputs": [dict(TENSOR, shape=[0] * 32)]}), route=INFER)
@example(case=("data", {"inputs": [dict(TENSOR, data=[1e39] * 8)]}), route=INFER)
@example(case=("datatype", {"inputs": [dict(TENSOR, datatype={"a": 1})]}), route=INFER)  # was a 500
@example(case=("datatype", {"inputs": [dict(TENSOR, datatype=["FP32"])]}), route=INVOCATIONS)
def test_wrong_types_and_shapes_are_400(server, case, route):
    field, body = case
    if route == INVOCATIONS and field in ("datatype", "inputs"):
        route = INFER  # /invocations reads a body without tensor datatypes as rows: not a tensor error
    event(f"{field} on {route}")
    # json.dumps writes NaN and Infinity, which are not JSON: the runtime must refuse them too
    response = server.client.post(route, content=json.dumps(body), headers={"content-type": "application/json"})
    assert_4xx(response, 400)


@FUZZ
@given(instances=st.one_of(
    WRONG,
    st.lists(st.lists(st.one_of(st.text(max_size=3), st.none(), st.booleans(), st.lists(st.integers(), max_size=2)),
                      min_size=4, max_size=4), min_size=1, max_size=3),
    st.lists(st.lists(st.floats(allow_nan=False), max_size=7).filter(lambda r: len(r) != 4), min_size=1, max_size=3),
    st.lists(st.dictionaries(st.text(max_size=4), st.integers(), max_size=3), min_size=1, max_size=3),
    st.just([]),
), key=st.sampled_from(["instances", "inputs"]))
@example(instances=[[1, 2, 3, 4], [1]], key="instances")
@example(instances=[{"a": 1}, [1, 2, 3, 4]], key="instances")
def test_kserve_v1_wrong_instances_are_400(server, instances, key):
    response = server.client.post(PREDICT, content=json.dumps({key: instances}), headers={"content-type": "application/json"})
    assert_4xx(response, 400)


NAMES = st.text(min_size=0, max_size=60).filter(lambda n: n != "iris" and not n.startswith("iris/"))


@FUZZ
@given(name=NAMES, version=st.one_of(st.none(), st.text(max_size=10)))
@example(name="../../etc/passwd", version=None)
@example(name="iris%00", version=None)
@example(name="IRIS", version=None)
@example(name="iris", version="2")
def test_unknown_model_names_are_404(server, name, version):
    if name == "iris" and version == "1":
        return
    encoded = quote(name, safe="")
    v2 = f"/v2/models/{encoded}" + (f"/versions/{quote(version, safe='')}" if version is not None else "") + "/infer"
    for path in (v2, *([f"/v1/models/{encoded}:predict"] if name != "iris" else [])):
        response = server.client.post(path, json=SAMPLE)
        assert response.status_code in (404, 405), (path, response.status_code, response.text)
        assert isinstance(response.json()["error"], str)


# -- the binary form (Binary Tensor Data extension): lying lengths, truncated data, huge sizes ----------------

BINARY_HEADER = "Inference-Header-Content-Length"
ROWS_RAW = b"\x00\x00\x80\x3f" * 8  # eight float32 1.0: the 32 bytes a [2, 4] FP32 tensor needs
DATATYPES = ["BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64",
             "FP16", "FP32", "FP64", "BYTES"]


def binary_body(inputs: list, raw: bytes, outputs: list | None = None) -> tuple[bytes, int]:
    head = json.dumps({"inputs": inputs, **({"outputs": outputs} if outputs is not None else {})}).encode()
    return head + raw, len(head)


def binary_tensor(size, shape=(2, 4), datatype="FP32", name="input") -> dict:
    return {"name": name, "datatype": datatype, "shape": list(shape), "parameters": {"binary_data_size": size}}


def post_binary(server: Server, route: str, body: bytes, header) -> httpx.Response:
    return server.client.post(route, content=body, headers={BINARY_HEADER: str(header),
                                                             "content-type": "application/octet-stream"})


def test_the_binary_form_is_served(server):
    """The baseline the hostile cases below break: a well-formed binary request predicts."""
    body, length = binary_body([binary_tensor(32)], ROWS_RAW, outputs=[{"name": "predict", "parameters": {"binary_data": True}}])
    response = post_binary(server, INFER, body, length)
    assert response.status_code == 200 and response.headers[BINARY_HEADER.lower()]


BINARY_LIES = [
    ("header longer than the body", [binary_tensor(32)], ROWS_RAW, lambda n: n + 10**6),
    ("header of 10**30", [binary_tensor(32)], ROWS_RAW, lambda n: 10**30),
    ("negative header", [binary_tensor(32)], ROWS_RAW, lambda n: -n),
    ("header cutting the JSON", [binary_tensor(32)], ROWS_RAW, lambda n: n - 5),
    ("header reaching into the data", [binary_tensor(32)], ROWS_RAW, lambda n: n + 3),
    ("size beyond the data", [binary_tensor(33)], ROWS_RAW, None),
    ("size short of the data", [binary_tensor(31)], ROWS_RAW, None),
    ("truncated data", [binary_tensor(32)], ROWS_RAW[:20], None),
    ("size 2**63", [binary_tensor(2**63)], ROWS_RAW, None),
    ("size 2**80", [binary_tensor(2**80)], ROWS_RAW, None),
    ("shape of 2**62 values", [binary_tensor(32, shape=(2**31, 2**31))], ROWS_RAW, None),
    ("BYTES element of 4 GiB", [binary_tensor(7, shape=(1,), datatype="BYTES")], b"\xff\xff\xff\xffabc", None),
    ("BYTES shape of 2**60", [binary_tensor(8, shape=(2**60,), datatype="BYTES")], b"\x00" * 8, None),
    ("BYTES length cut short", [binary_tensor(6, shape=(2,), datatype="BYTES")], b"\x01\x00\x00\x00a\x02", None),
    ("two inputs, sizes adding past the data", [binary_tensor(32), binary_tensor(32, name="b")], ROWS_RAW, None),
    ("size and data both", [dict(binary_tensor(32), data=[1] * 8)], ROWS_RAW, None),
]


@pytest.mark.parametrize("route", [INFER, INVOCATIONS])
@pytest.mark.parametrize("name,inputs,raw,header", BINARY_LIES, ids=[c[0] for c in BINARY_LIES])
def test_lying_binary_lengths_are_4xx(server, route, name, inputs, raw, header):
    body, length = binary_body(inputs, raw)
    response = post_binary(server, route, body, header(length) if header else length)
    assert_4xx(response, 400)
    server.assert_alive()


def test_a_million_empty_bytes_elements_cost_a_bounded_time(server):
    """The most elements a body within the limit can declare (4 bytes each): decoded, refused by
    the model as non-numeric, and the server answers the next request."""
    count = 1 << 20
    body, length = binary_body([binary_tensor(4 * count, shape=(count,), datatype="BYTES")], b"\x00" * (4 * count))
    assert_4xx(post_binary(server, INFER, body, length), 400)
    server.assert_alive()


@pytest.mark.parametrize("route", [INFER, INVOCATIONS])
def test_binary_body_shorter_than_declared_then_gone(server, route):
    body, length = binary_body([binary_tensor(32)], ROWS_RAW)
    head = (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            b"%s: %d\r\nContent-Length: %d\r\n\r\n" % (route.encode(), BINARY_HEADER.encode(), length, len(body) + 10_000))
    server.raw(head + body, close_early=True)
    server.assert_alive()


@st.composite
def binary_request(draw):
    """A request of the binary form with every part possibly lying: the header length, the
    declared sizes, shapes and datatypes, the data itself, the output flags."""
    count = draw(st.integers(1, 3))
    inputs = []
    for index in range(count):
        tensor = {"name": draw(st.sampled_from(["input", f"in{index}", ""])),
                  "datatype": draw(st.sampled_from([*DATATYPES, "BF16", "FP8"])),
                  "shape": draw(st.one_of(st.just([2, 4]), st.lists(st.integers(0, 2**64), max_size=4))),
                  "parameters": {"binary_data_size": draw(st.one_of(
                      st.just(32), st.integers(-2, 64), st.integers(0, 2**70), st.none(), st.booleans(), st.text(max_size=3)))}}
        if draw(st.booleans()):
            tensor["parameters"] = draw(st.one_of(st.just(tensor["parameters"]), WRONG))
        inputs.append(tensor)
    raw = draw(st.one_of(st.just(ROWS_RAW), st.binary(max_size=200), st.just(ROWS_RAW * 2)))
    outputs = draw(st.one_of(st.none(), st.lists(st.fixed_dictionaries(
        {"name": st.sampled_from(["predict", "predict_proba", "x"]),
         "parameters": st.one_of(WRONG, st.fixed_dictionaries({"binary_data": st.one_of(st.booleans(), WRONG)}))}),
        max_size=2)))
    body, length = binary_body(inputs, raw, outputs)
    header = draw(st.one_of(st.just(length), st.integers(-5, len(body) + 5), st.integers(0, 2**70),
                            st.from_regex(r"[0-9a-zA-Z+.-]{0,5}", fullmatch=True)))  # what HTTP lets a header hold
    return body, header


@FUZZ
@given(request=binary_request(), route=st.sampled_from([INFER, INVOCATIONS]))
def test_any_binary_request_is_answered_never_5xx(server, request, route):
    body, header = request
    response = post_binary(server, route, body, header)
    event(f"{route} -> {response.status_code}")
    assert response.status_code == 200 or 400 <= response.status_code < 500, (response.status_code, response.text)
    if response.status_code != 200:
        assert isinstance(response.json()["error"], str)


def test_server_survived_everything(server):
    """Last: the process that took every request above still serves, within its memory bound."""
    server.assert_alive()
