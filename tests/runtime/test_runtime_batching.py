"""Adaptive batching: concurrent requests merged into one model call, and every answer (errors
included) exactly the answer the same request gets with batching off."""

import threading

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from modelport.runtime.app import RuntimeApp
from runtime_helpers import config_for, custom_model, logged, sample_request, serving
from runtime_served import serve_in_thread

INFER = "/v2/models/iris/infer"
BATCHING = {"max_batch_size": 64, "max_batch_delay_ms": 200}

# Row-wise, slow enough (on a prediction thread) that requests pile up while it runs, and records
# the rows of every call. Negative values are the caller's fault (400), values over 1000 break it
# (500), both decided per row, as a batch dimension means.
RECORDING_MODEL = """
    import time
    import numpy as np

    CALLS = []

    def load(path):
        return None

    def predict(model, inputs):
        CALLS.append(len(inputs))
        time.sleep(0.05)
        if (inputs < 0).any():
            raise ValueError("negative values are not allowed")
        if (inputs > 1000).any():
            raise RuntimeError("the model overheated")
        return {"total": inputs.sum(axis=1), "scaled": inputs * 2}
"""


def request_for(index: int) -> dict:
    rows = 1 + index % 3
    data = [[index + r, 1.5 * r, -1.0 if index % 5 == 4 and r == 0 else 0.25, 2000.0 if index % 7 == 6 else 1.0]
            for r in range(rows)]
    return {"id": f"r{index}", "inputs": [{"name": "x", "datatype": "FP64", "shape": [rows, 4], "data": data}]}


def concurrently(send, bodies: list) -> list:
    """Send every body at once from its own thread; the answers in body order."""
    answers = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def one(index):
        start.wait()
        answers[index] = send(bodies[index])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def outcome(response) -> tuple:
    return response.status_code, response.json()


def batch_sizes(client) -> tuple[float, float]:
    """(model calls observed, calls that served a single request) from the batch-size histogram."""
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    samples = families["modelport_inference_batch_size"].samples
    count = next(s.value for s in samples if s.name.endswith("_count"))
    alone = next(s.value for s in samples if s.name.endswith("_bucket") and s.labels["le"] == "1.0")
    return count, alone


def test_merged_answers_equal_answers_alone_including_errors(tmp_path):
    bodies = [request_for(i) for i in range(16)]
    with serving(custom_model(tmp_path / "alone", RECORDING_MODEL)) as client:
        alone = [outcome(client.post(INFER, json=body)) for body in bodies]
    assert {status for status, _ in alone} == {200, 400, 500}  # the mix this test is about
    with serving(custom_model(tmp_path / "batched", RECORDING_MODEL, **BATCHING)) as client:
        batched = concurrently(lambda body: client.post(INFER, json=body), bodies)
        calls = client.app_under_test.host.model.module.CALLS
        records = logged(client)
        observed, single = batch_sizes(client)
    assert [outcome(r) for r in batched] == alone
    assert max(calls) > 3, calls  # merged calls happened
    assert observed > single, "some call served several requests"
    assert max(r["batch_size"] for r in records) > 1


def test_requests_that_cannot_merge_still_answer_as_alone(tmp_path):
    """Different feature counts, dtypes or requested outputs never share a call."""
    bodies = [request_for(i) for i in range(6)]
    bodies[1]["inputs"][0]["datatype"] = "FP32"
    bodies[2]["outputs"] = [{"name": "total"}]
    bodies[3]["inputs"][0] = {"name": "x", "datatype": "FP64", "shape": [1, 3], "data": [[1, 2, 3]]}
    bodies[4]["inputs"][0] = {"name": "x", "datatype": "FP64", "shape": [2], "data": [5, 6]}  # 1-D: sum fails alone too
    with serving(custom_model(tmp_path / "alone", RECORDING_MODEL)) as client:
        alone = [outcome(client.post(INFER, json=body)) for body in bodies]
    with serving(custom_model(tmp_path / "batched", RECORDING_MODEL, **BATCHING)) as client:
        assert [outcome(r) for r in concurrently(lambda body: client.post(INFER, json=body), bodies)] == alone


def test_outputs_without_a_batch_dimension_are_answered_from_calls_alone(tmp_path):
    model = """
        import time

        def load(path):
            return None

        def predict(model, inputs):
            time.sleep(0.05)
            return {"grand_total": inputs.sum()}  # a scalar: not row-wise, cannot be split
    """
    bodies = [request_for(i) for i in range(4)]
    for body in bodies:
        body["inputs"][0]["data"] = [[1, 2, 3, 4]] * body["inputs"][0]["shape"][0]
    with serving(custom_model(tmp_path / "alone", model)) as client:
        alone = [outcome(client.post(INFER, json=body)) for body in bodies]
    with serving(custom_model(tmp_path / "batched", model, **BATCHING)) as client:
        assert [outcome(r) for r in concurrently(lambda body: client.post(INFER, json=body), bodies)] == alone
    assert [body["outputs"][0]["data"] for _, body in alone] == [[10.0], [20.0], [30.0], [10.0]]


def test_kserve_v1_and_sagemaker_requests_merge_too(tmp_path):
    routes = ["/v1/models/iris:predict", "/invocations"] * 4
    bodies = [{"instances": [[i, 1, 1, 1]] * (1 + i % 2)} for i in range(len(routes))]
    with serving(custom_model(tmp_path / "alone", RECORDING_MODEL)) as client:
        alone = [outcome(client.post(route, json=body)) for route, body in zip(routes, bodies)]
    with serving(custom_model(tmp_path / "batched", RECORDING_MODEL, **BATCHING)) as client:
        pairs = list(zip(routes, bodies))
        batched = concurrently(lambda pair: client.post(pair[0], json=pair[1]), pairs)
        calls = client.app_under_test.host.model.module.CALLS
    assert [outcome(r) for r in batched] == alone
    assert len(calls) < len(pairs), calls


def test_sklearn_over_http_with_batching_answers_as_without(tmp_path):
    """The iris model on uvicorn: concurrent JSON requests, with and without batching, same bytes."""
    bodies = [dict(sample_request(), id=f"q{i}", inputs=[dict(sample_request()["inputs"][0],
              data=(np.random.default_rng(i).uniform(0, 8, (2, 4))).round(2).tolist())]) for i in range(24)]
    answers = {}
    for mode, config in (("off", config_for("iris")), ("on", config_for("iris", max_batch_size=32))):
        with serve_in_thread(RuntimeApp(config)) as url, httpx.Client(base_url=url, timeout=30) as client:
            answers[mode] = concurrently(lambda body: client.post(INFER, json=body), bodies)
    assert all(r.status_code == 200 for r in answers["on"])
    assert [r.content for r in answers["on"]] == [r.content for r in answers["off"]]


@pytest.mark.parametrize("delay_ms", [0, 1000])
def test_a_lone_request_does_not_wait_for_the_delay(delay_ms):
    """Adaptive: with nothing else on its way, a request goes at once, whatever the delay allows."""
    with serving(config_for("iris", max_batch_size=16, max_batch_delay_ms=delay_ms)) as client:
        for _ in range(5):
            response = client.post(INFER, json=sample_request())
            assert response.status_code == 200
        assert max(r["latency_ms"] for r in logged(client)) < 500
