"""The runtime as a real process: start with `serve`, answer, drain in-flight requests on SIGTERM, exit 0."""

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime_helpers import EXAMPLES, sample_request
from runtime_served import runtime_path_dir, start, stop, wait_ready

pytestmark = pytest.mark.slow


def iris_env(example="iris"):
    return {"MODELPORT_MODEL_NAME": "iris", "MODELPORT_MODEL_VERSION": "1", "MODELPORT_FRAMEWORK": "sklearn",
            "MODELPORT_MODEL_PATH": str(EXAMPLES / example / "model.joblib")}


def test_serve_answers_every_protocol_and_exits_0_on_sigterm(tmp_path):
    process, url = start(tmp_path, iris_env())
    try:
        wait_ready(url, process)
        infer = httpx.post(f"{url}/v2/models/iris/infer", json=sample_request(), timeout=10,
                           headers={"X-Request-Id": "e2e-1"})
        assert infer.status_code == 200 and infer.headers["x-request-id"] == "e2e-1"
        assert {o["name"]: o["data"] for o in infer.json()["outputs"]}["predict"] == [0, 2]
        v1 = httpx.post(f"{url}/v1/models/iris:predict", json={"instances": [[6.3, 2.8, 5.1, 1.5]]}, timeout=10)
        assert v1.json() == {"predictions": [2]}
        assert httpx.get(f"{url}/ping", timeout=10).status_code == 200
        assert httpx.post(f"{url}/v2/models/iris/infer", content=b"{", timeout=10).status_code == 400
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        stop(process)
    # standard output carried one JSON line per request (the health polls included)
    lines = [json.loads(line) for line in (tmp_path / "runtime.log").read_text().splitlines() if line.startswith("{")]
    mine = [line for line in lines if line["request_id"] == "e2e-1"]
    assert len(mine) == 1 and mine[0]["route"] == "/v2/models/{name}/infer" and mine[0]["batch_size"] == 1
    assert [line["status"] for line in lines if line["method"] == "POST"] == [200, 200, 400]


def test_sigterm_drains_the_in_flight_request_then_exits_0(tmp_path):
    gate, entered = tmp_path / "gate", tmp_path / "entered"
    (tmp_path / "predict.py").write_text(textwrap.dedent(f"""
        import os, time

        def load(path):
            return None

        def predict(model, inputs):
            open({str(entered)!r}, "w").close()
            deadline = time.monotonic() + 60
            while not os.path.exists({str(gate)!r}) and time.monotonic() < deadline:
                time.sleep(0.01)
            return inputs * 2
    """))
    (tmp_path / "model.txt").write_text("m")
    env = {"MODELPORT_MODEL_NAME": "slow", "MODELPORT_FRAMEWORK": "custom",
           "MODELPORT_MODEL_PATH": str(tmp_path / "model.txt"), "MODELPORT_PREDICT_FILE": str(tmp_path / "predict.py")}
    process, url = start(tmp_path, env)
    try:
        wait_ready(url, process)
        answers = []
        request = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1], "data": [21]}]}
        client = threading.Thread(target=lambda: answers.append(
            httpx.post(f"{url}/v2/models/slow/infer", json=request, timeout=60)))
        client.start()
        wait_for(entered.exists)
        process.send_signal(signal.SIGTERM)
        wait_for(lambda: refuses_connections(url))  # stopped accepting while the request is in flight
        assert process.poll() is None and not answers
        gate.write_text("go")
        client.join(60)
        assert answers and answers[0].status_code == 200
        assert answers[0].json()["outputs"][0]["data"] == [42.0]
        assert process.wait(30) == 0
    finally:
        gate.write_text("go")
        stop(process)


def test_model_that_fails_to_load_exits_1(tmp_path):
    env = {**iris_env(), "MODELPORT_MODEL_PATH": str(tmp_path / "missing.joblib")}
    process, _ = start(tmp_path, env)
    try:
        assert process.wait(60) == 1
        assert "does not exist" in (tmp_path / "runtime.log").read_text()
    finally:
        stop(process)


@pytest.mark.parametrize("args,env,status,words", [
    (("train",), iris_env(), 2, "usage"),
    (("serve",), {"MODELPORT_FRAMEWORK": "sklearn"}, 2, "MODELPORT_MODEL_PATH"),
    (("serve",), {**iris_env(), "MODELPORT_FRAMEWORK": "tensorflow"}, 2, "not supported"),
    (("serve",), {**iris_env(), "PORT": "http"}, 2, "not an integer"),
])
def test_bad_command_line_or_environment_exits_2_with_reason(tmp_path, args, env, status, words):
    clean = {"PYTHONPATH": str(runtime_path_dir(tmp_path)), "PATH": "/usr/bin:/bin", **env}
    done = subprocess.run([sys.executable, "-m", "modelport_runtime", *args], env=clean, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == status
    assert words in done.stderr


def refuses_connections(url):
    try:
        httpx.get(f"{url}/v2/health/live", timeout=2)
    except httpx.ConnectError:
        return True
    except httpx.TransportError:
        return False
    return False


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_several_workers_serve_and_exit_0_on_sigterm(tmp_path):
    process, url = start(tmp_path, {**iris_env(), "MODELPORT_WORKERS": "2"})
    try:
        wait_ready(url, process, timeout=120)
        with httpx.Client(timeout=30) as client:  # new connections land on either worker
            for _ in range(6):
                with httpx.Client(timeout=30) as fresh:
                    assert fresh.post(f"{url}/v2/models/iris/infer", json=sample_request()).status_code == 200
            assert client.get(f"{url}/v2/health/live").status_code == 200
            # whichever worker answers the scrape, it counts every worker's requests
            for _ in range(3):
                with httpx.Client(timeout=30) as fresh:
                    families = text_string_to_metric_families(fresh.get(f"{url}/metrics").text)
                    infer = [s.value for f in families if f.name == "modelport_requests" for s in f.samples
                             if s.name.endswith("_total") and s.labels["route"] == "/v2/models/{name}/infer"]
                    assert infer == [6.0]
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        stop(process)


def test_several_workers_with_a_broken_model_exit_1(tmp_path):
    env = {**iris_env(), "MODELPORT_WORKERS": "2", "MODELPORT_MODEL_PATH": str(tmp_path / "missing.joblib")}
    process, _ = start(tmp_path, env)
    try:
        assert process.wait(60) == 1
    finally:
        stop(process)


def test_oversized_bodies_get_413_over_real_http_and_the_server_keeps_serving(tmp_path):
    process, url = start(tmp_path, {**iris_env(), "MODELPORT_MAX_BODY_BYTES": "1000000"})
    try:
        wait_ready(url, process)
        big = b"[" + b"1," * 1_500_000 + b"1]"

        def chunks():  # no Content-Length: refused while it streams in
            for _ in range(100):
                yield b" " * 65536

        with httpx.Client(timeout=60) as client:
            declared = client.post(f"{url}/v2/models/iris/infer", content=big,
                                   headers={"content-type": "application/json"})
            assert declared.status_code == 413 and "limit" in declared.json()["error"]
            streamed = client.post(f"{url}/v2/models/iris/infer", content=chunks(),
                                   headers={"content-type": "application/json"})
            assert streamed.status_code == 413
            assert client.post(f"{url}/v2/models/iris/infer", json=sample_request()).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        stop(process)
