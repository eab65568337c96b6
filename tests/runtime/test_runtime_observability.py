"""/metrics in Prometheus text (parsed with the Prometheus client's own parser) and the JSON access
log: what they count and time, their names and labels, the request id, and that no request
content ever reaches a label or a log line."""

import re
import threading
from datetime import datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime_helpers import config_for, custom_model, logged, sample_request, serving

INFER = "/v2/models/iris/infer"
INFER_ROUTE = "/v2/models/{name}/infer"
MARKER = "zq7marker"  # request content that must show up nowhere


def scrape(client) -> dict:
    """Metric families by name, as Prometheus' own parser reads the page."""
    page = client.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(page.text)}


def value(families: dict, family: str, sample: str, **labels) -> float:
    """The one sample named ``sample`` of ``family`` whose labels include ``labels`` (0 when absent)."""
    found = [s.value for s in families[family].samples
             if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) <= 1, found
    return found[0] if found else 0.0


@pytest.fixture
def iris():
    with serving(config_for("iris")) as client:
        yield client


def test_requests_are_counted_by_route_and_status_and_timed(iris):
    for _ in range(3):
        assert iris.post(INFER, json=sample_request()).status_code == 200
    assert iris.post(INFER, content=b"{", headers={"content-type": "application/json"}).status_code == 400
    assert iris.post("/v2/models/other/infer", json=sample_request()).status_code == 404
    assert iris.post("/v1/models/iris:predict", json={"instances": [[1, 2, 3, 4]]}).status_code == 200
    assert iris.get("/nothing/here").status_code == 404
    families = scrape(iris)
    total = "modelport_requests_total"
    assert value(families, "modelport_requests", total, route=INFER_ROUTE, status="200") == 3
    assert value(families, "modelport_requests", total, route=INFER_ROUTE, status="400") == 1
    assert value(families, "modelport_requests", total, route=INFER_ROUTE, status="404") == 1
    assert value(families, "modelport_requests", total, route="/v1/models/{name}:predict", status="200") == 1
    assert value(families, "modelport_requests", total, route="unmatched", status="404") == 1
    duration = "modelport_request_duration_seconds"
    assert value(families, duration, duration + "_count", route=INFER_ROUTE) == 5
    buckets = [s for s in families[duration].samples if s.name.endswith("_bucket") and s.labels["route"] == INFER_ROUTE]
    counts = [s.value for s in buckets]
    assert counts == sorted(counts) and buckets[-1].labels["le"] == "+Inf" and counts[-1] == 5
    assert value(families, duration, duration + "_sum", route=INFER_ROUTE) > 0
    # the model ran 4 times (the 400 and the 404 never reached it); KServe's name counts the same calls
    inference = "modelport_inference_duration_seconds"
    assert value(families, inference, inference + "_count", model="iris", version="1") == 4
    assert value(families, "request_predict_seconds", "request_predict_seconds_count", model_name="iris") == 4
    batch = "modelport_inference_batch_size"
    assert value(families, batch, batch + "_count") == 0  # batching is off
    assert value(families, "process_resident_memory_bytes", "process_resident_memory_bytes") > 0


def test_names_and_labels_follow_prometheus_conventions(iris):
    iris.post(INFER, json=sample_request())
    families = scrape(iris)
    ours = [f for name, f in families.items() if name.startswith("modelport_") or name.startswith("request_")]
    assert {f.name for f in ours} == {"modelport_requests", "modelport_request_duration_seconds",
                                      "modelport_requests_in_flight", "modelport_inference_duration_seconds",
                                      "modelport_inference_batch_size", "request_predict_seconds"}
    for family in ours:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", family.name) and family.documentation
        if family.type == "counter":
            assert all(s.name.endswith("_total") for s in family.samples)
        if family.type == "histogram" and "batch" not in family.name:
            assert family.name.endswith("_seconds")  # base unit
        for sample in family.samples:
            assert set(sample.labels) <= {"model", "version", "route", "status", "le", "model_name"}
            assert sample.labels.get("model", "iris") == "iris" and sample.labels.get("version", "1") == "1"


def test_no_request_content_in_labels_or_log_lines(iris):
    iris.post(f"/v2/models/{MARKER}/infer?{MARKER}=1", json=sample_request(), headers={"x-api-key": MARKER})
    iris.post(INFER, json=dict(sample_request(), id=MARKER), headers={"authorization": f"Bearer {MARKER}"})
    iris.get(f"/{MARKER}", headers={"x-request-id": f"bad id {MARKER}"})
    iris.post(INFER, content=MARKER.encode(), headers={"content-type": "application/json"})
    assert MARKER not in iris.get("/metrics").text
    records = logged(iris)
    assert len(records) == 5 and MARKER not in repr(records)


def test_in_flight_counts_requests_being_answered(tmp_path):
    gate, entered = threading.Event(), threading.Event()
    config = custom_model(tmp_path, """
        import time
        ENTERED = GATE = None

        def load(path):
            return None

        def predict(model, inputs):
            ENTERED.set()
            GATE.wait(30)
            return inputs
    """)
    with serving(config) as client:
        module = client.app_under_test.host.model.module
        module.ENTERED, module.GATE = entered, gate
        worker = threading.Thread(target=client.post, args=(INFER,), kwargs={"json": sample_request()})
        worker.start()
        try:
            assert entered.wait(30)
            in_flight = "modelport_requests_in_flight"
            assert value(scrape(client), in_flight, in_flight) == 2  # the blocked request and this scrape
        finally:
            gate.set()
            worker.join(30)
        assert value(scrape(client), in_flight, in_flight) == 1


def test_one_json_access_log_line_per_request(tmp_path):
    config = custom_model(tmp_path, """
        def load(path):
            return None

        def predict(model, inputs):
            if inputs.max() > 100:
                raise RuntimeError("overheated")
            return inputs
    """)
    with serving(config) as client:
        ok = client.post(INFER, json=sample_request(), headers={"X-Request-Id": "order-42/retry:1"})
        failed = client.post(INFER, json={"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [101]}]})
        unknown = client.get("/v2/models/other")
        health = client.get("/v2/health/live")
        records = logged(client)
    assert [r["status"] for r in records] == [200, 500, 404, 200]
    assert [r["severity"] for r in records] == ["INFO", "ERROR", "WARNING", "INFO"]
    first = records[0]
    assert set(first) == {"time", "severity", "message", "request_id", "method", "route", "model", "version",
                          "status", "latency_ms", "batch_size"}
    assert first["request_id"] == ok.headers["x-request-id"] == "order-42/retry:1"
    assert (first["method"], first["route"], first["model"], first["version"]) == ("POST", INFER_ROUTE, "iris", "1")
    assert first["message"] == f"POST {INFER_ROUTE} 200" and first["batch_size"] == 1
    assert 0 < first["latency_ms"] < 60_000
    assert datetime.fromisoformat(first["time"]).tzinfo is not None and first["time"].endswith("Z")
    assert records[2]["route"] == "/v2/models/{name}" and records[2]["batch_size"] is None
    # every reply carries its id; ids made by the server are fresh random tokens
    made = [failed.headers["x-request-id"], unknown.headers["x-request-id"], health.headers["x-request-id"]]
    assert [r["request_id"] for r in records[1:]] == made
    assert len(set(made)) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in made)


@pytest.mark.parametrize("supplied", ["", "has space", "a" * 129, "new\nline", "ünïcode", "quote\"d"])
def test_unusable_request_ids_are_replaced(iris, supplied):
    response = iris.get("/v2/health/ready", headers={"X-Request-Id": supplied.encode("utf-8")})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    assert logged(iris)[-1]["request_id"] == response.headers["x-request-id"]


def test_access_log_can_be_turned_off():
    with serving(config_for("iris", access_log=False)) as client:
        assert client.post(INFER, json=sample_request()).headers["x-request-id"]
        assert client.app_under_test.access_log is None and logged(client) == []
