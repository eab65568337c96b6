"""Every class of bad request gets a 4xx with an {"error": ...} body, and the server keeps answering."""

import textwrap
import threading

import pytest

from runtime_helpers import config_for, sample_request, serving

INFER = "/v2/models/iris/infer"


def tensor_request(**changes):
    body = sample_request()
    body["inputs"] = [dict(body["inputs"][0], **changes)]
    return body


def deep_json(levels):
    return ("[" * levels + "]" * levels).encode()


BAD_REQUESTS = [
    # (name, method, path, kwargs, status)
    ("shape does not match data", "POST", INFER, {"json": tensor_request(shape=[3, 4])}, 400),
    ("datatype does not match values", "POST", INFER, {"json": tensor_request(datatype="INT32")}, 400),
    ("unknown datatype", "POST", INFER, {"json": tensor_request(datatype="FLOAT")}, 400),
    ("strings in a numeric tensor", "POST", INFER, {"json": tensor_request(data=[["a"] * 4] * 2)}, 400),
    ("wrong feature count", "POST", INFER, {"json": tensor_request(shape=[2, 3], data=[[1, 2, 3]] * 2)}, 400),
    ("1-D input for a 2-D model", "POST", INFER, {"json": tensor_request(shape=[4], data=[1, 2, 3, 4])}, 400),
    ("two inputs for a one-input model", "POST", INFER,
     {"json": {"inputs": [sample_request()["inputs"][0], dict(sample_request()["inputs"][0], name="b")]}}, 400),
    ("unknown requested output", "POST", INFER, {"json": dict(sample_request(), outputs=[{"name": "nope"}])}, 400),
    ("no inputs", "POST", INFER, {"json": {"inputs": []}}, 400),
    ("body not an object", "POST", INFER, {"json": [1, 2]}, 400),
    ("id not a string", "POST", INFER, {"json": dict(sample_request(), id=5)}, 400),
    ("malformed JSON", "POST", INFER, {"content": b'{"inputs": [', "headers": {"content-type": "application/json"}}, 400),
    ("empty body", "POST", INFER, {"content": b"", "headers": {"content-type": "application/json"}}, 400),
    ("deep JSON nesting", "POST", INFER, {"content": deep_json(100_000), "headers": {"content-type": "application/json"}}, 400),
    ("deep nesting inside data", "POST", INFER, {"json": tensor_request(data=[[[[[[[[1]]]]]]]])}, 400),
    ("wrong content type", "POST", INFER, {"content": b"inputs=1", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415),
    ("unknown model", "POST", "/v2/models/other/infer", {"json": sample_request()}, 404),
    ("unknown version", "POST", "/v2/models/iris/versions/9/infer", {"json": sample_request()}, 404),
    ("unknown model metadata", "GET", "/v2/models/other", {}, 404),
    ("unknown model v1", "POST", "/v1/models/other:predict", {"json": {"instances": [[1, 2, 3, 4]]}}, 404),
    ("unknown route", "GET", "/nothing/here", {}, 404),
    ("wrong method", "GET", INFER, {}, 405),
    ("v1 without instances", "POST", "/v1/models/iris:predict", {"json": {"rows": []}}, 400),
    ("v1 ragged instances", "POST", "/v1/models/iris:predict", {"json": {"instances": [[1, 2, 3, 4], [1]]}}, 400),
    ("v1 string instances", "POST", "/v1/models/iris:predict", {"json": {"instances": [["a", "b", "c", "d"]]}}, 400),
    ("sagemaker bad csv", "POST", "/invocations", {"content": b"1,2,x,4\n", "headers": {"content-type": "text/csv"}}, 400),
    ("sagemaker wrong content type", "POST", "/invocations", {"content": b"\x00", "headers": {"content-type": "image/png"}}, 415),
    ("sagemaker JSON scalar", "POST", "/invocations", {"json": 5}, 400),
    ("bad Content-Length", "POST", INFER, {"content": b"{}", "headers": {"content-length": "x2"}}, 400),
]


@pytest.mark.parametrize("name,method,path,kwargs,status", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_request_gets_4xx_error_body_and_server_keeps_answering(iris_client, name, method, path, kwargs, status):
    response = iris_client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert isinstance(error, str) and error
    assert iris_client.get("/v2/health/ready").status_code == 200
    assert iris_client.post(INFER, json=sample_request()).status_code == 200


def test_wrong_method_says_which_are_allowed(iris_client):
    assert iris_client.get(INFER).headers["allow"] == "POST"


def test_body_over_the_limit_is_413_and_server_keeps_answering():
    with serving(config_for("iris", max_body_bytes=1024)) as client:
        big = tensor_request(shape=[200, 4], data=[[5.1, 3.5, 1.4, 0.2]] * 200)
        response = client.post(INFER, json=big)
        assert response.status_code == 413 and "limit" in response.json()["error"]

        def chunks():  # no Content-Length: the limit is enforced while reading
            for _ in range(10):
                yield b" " * 500

        streamed = client.post(INFER, content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        assert client.post(INFER, json=sample_request()).status_code == 200


def write_predict(tmp_path, body):
    path = tmp_path / "predict.py"
    path.write_text(textwrap.dedent(body))
    (tmp_path / "model.txt").write_text("m")
    return path


def test_model_exception_is_500_with_error_and_server_stays_up(tmp_path):
    predict = write_predict(tmp_path, """
        def load(path):
            return open(path).read()

        def predict(model, inputs):
            if inputs[0][0] < 0:
                raise RuntimeError("negative first feature breaks this model")
            if inputs[0][0] > 100:
                raise ValueError("feature too large")
            return inputs.sum(axis=1)
    """)
    config = config_for("iris", framework="custom", predict_file=predict, model_path=tmp_path / "model.txt")
    with serving(config) as client:
        crash = client.post(INFER, json=tensor_request(data=[[-1, 0, 0, 0], [1, 1, 1, 1]]))
        assert crash.status_code == 500 and "negative first feature" in crash.json()["error"]
        rejected = client.post(INFER, json=tensor_request(data=[[101, 0, 0, 0], [1, 1, 1, 1]]))
        assert rejected.status_code == 400 and "too large" in rejected.json()["error"]
        ok = client.post(INFER, json=tensor_request(data=[[1, 2, 3, 4], [1, 1, 1, 1]]))
        assert ok.status_code == 200 and ok.json()["outputs"][0]["data"] == [10.0, 4.0]


def test_not_ready_until_the_model_is_loaded(tmp_path):
    gate = tmp_path / "gate"
    predict = write_predict(tmp_path, f"""
        import os, time

        def load(path):
            while not os.path.exists({str(gate)!r}):
                time.sleep(0.02)
            return None

        def predict(model, inputs):
            return inputs
    """)
    config = config_for("iris", framework="custom", predict_file=predict, model_path=tmp_path / "model.txt")
    with serving(config, wait=False) as client:
        assert client.get("/v2/health/live").status_code == 200
        for path in ("/v2/health/ready", "/v2/models/iris/ready", "/v1/models/iris", "/ping"):
            assert client.get(path).status_code == 503, path
        not_ready = client.post(INFER, json=sample_request())
        assert not_ready.status_code == 503 and "loading" in not_ready.json()["error"]
        gate.write_text("go")
        assert client.app_under_test.host.wait_loaded(30)
        assert client.get("/v2/health/ready").status_code == 200
        assert client.post(INFER, json=sample_request()).status_code == 200


def test_failed_load_is_never_ready_and_says_why(tmp_path):
    predict = write_predict(tmp_path, """
        def load(path):
            raise OSError("weights are corrupt")

        def predict(model, inputs):
            return inputs
    """)
    config = config_for("iris", framework="custom", predict_file=predict, model_path=tmp_path / "model.txt")
    with serving(config, wait=False) as client:
        assert client.app_under_test.host.wait_loaded(30)
        assert client.get("/v2/health/ready").json() == {"ready": False}
        error = client.post(INFER, json=sample_request()).json()["error"]
        assert "failed to load" in error
        assert "weights are corrupt" in client.app_under_test.host.load_error


def test_concurrent_requests_all_answered(iris_client):
    results = []

    def worker():
        for _ in range(20):
            results.append(iris_client.post(INFER, json=sample_request()).status_code)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 80


def test_slow_models_run_on_prediction_threads_fast_ones_on_the_loop(tmp_path):
    predict = write_predict(tmp_path, """
        import threading, time
        SEEN = []

        def load(path):
            return None

        def predict(model, inputs):
            SEEN.append(threading.current_thread().name)
            if inputs[0][0] > 0:
                time.sleep(0.05)  # far above the 10 ms inline threshold
            return inputs
    """)
    config = config_for("iris", framework="custom", predict_file=predict, model_path=tmp_path / "model.txt")
    with serving(config) as client:
        host = client.app_under_test.host
        seen = host.model.module.SEEN
        for _ in range(5):
            assert client.post(INFER, json=tensor_request(data=[[1, 2, 3, 4]] * 2)).status_code == 200
        assert all(name.startswith("predict") for name in seen) and not host.inline
        for _ in range(60):
            assert client.post(INFER, json=tensor_request(data=[[0, 2, 3, 4]] * 2)).status_code == 200
        assert host.inline and not seen[-1].startswith("predict")
