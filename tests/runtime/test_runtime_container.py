"""The runtime inside a container of the base image, with the pinned manylinux wheels (Python 3.11.2)."""

import json
import os

import httpx
import pytest

from runtime_helpers import EXAMPLES, sample_request
from runtime_served import free_address, wait_ready

docker = pytest.importorskip("docker")
pytestmark = [pytest.mark.docker, pytest.mark.slow]

BASE_IMAGE = os.environ.get("MODELPORT_BASE_IMAGE", "modelport-base:bookworm")


@pytest.fixture(scope="module")
def engine():
    try:
        client = docker.from_env()
        client.ping()
        client.images.get(BASE_IMAGE)
    except Exception as exc:  # no engine, or the base image is not built yet
        pytest.skip(f"no Docker engine with {BASE_IMAGE}: {exc}")
    yield client
    client.close()


@pytest.fixture(scope="module")
def site():
    from runtime_container import site_packages

    return site_packages(("sklearn", "onnx"))


MODELS = {
    "sklearn": ("iris", {"MODELPORT_FRAMEWORK": "sklearn", "MODELPORT_MODEL_PATH": "/opt/model/model.joblib"}),
    "onnx": ("onnx-iris", {"MODELPORT_FRAMEWORK": "onnx", "MODELPORT_MODEL_PATH": "/opt/model"}),
    "custom": ("custom-python", {"MODELPORT_FRAMEWORK": "custom", "MODELPORT_MODEL_PATH": "/opt/model/model.json",
                                 "MODELPORT_PREDICT_FILE": "/opt/model/predict.py"}),
}


@pytest.mark.parametrize("framework", list(MODELS))
def test_container_serves_predictions_and_stops_cleanly(engine, site, framework):
    from runtime_container import run_runtime

    example, env = MODELS[framework]
    host, port = free_address()
    env = {**env, "MODELPORT_MODEL_NAME": "iris", "MODELPORT_HOST": host, "PORT": str(port)}
    container = run_runtime(engine, BASE_IMAGE, site, env, {EXAMPLES / example: "/opt/model"})
    try:
        url = f"http://{host}:{port}"
        try:
            wait_ready(url, timeout=90)
        except AssertionError:
            raise AssertionError(container.logs().decode(errors="replace")[-3000:]) from None
        version = container.exec_run(["python3", "-c", "import sys; print(sys.version.split()[0])"]).output
        assert version.decode().startswith("3.11")
        infer = httpx.post(f"{url}/v2/models/iris/infer", json=sample_request(example), timeout=30)
        assert infer.status_code == 200, infer.text
        outputs = {o["name"]: o["data"] for o in infer.json()["outputs"]}
        assert outputs["predict"] == [0, 2]
        v1 = httpx.post(f"{url}/v1/models/iris:predict", json={"instances": [[5.9, 3.0, 5.1, 1.8]]}, timeout=30)
        assert v1.json() == {"predictions": [2]}
        csv = httpx.post(f"{url}/invocations", content=b"5.1,3.5,1.4,0.2\n",
                         headers={"content-type": "text/csv"}, timeout=30)
        assert csv.json() == {"predictions": [0]}
        assert httpx.post(f"{url}/v2/models/iris/infer", json={"inputs": 1}, timeout=30).status_code == 400
        assert_binary_metrics_and_logs(url, container, example)
        container.stop(timeout=30)  # SIGTERM, then the drained runtime exits
        assert container.wait(timeout=60)["StatusCode"] == 0
    finally:
        container.remove(force=True)


def assert_binary_metrics_and_logs(url, container, example):
    """In the image's Python with the pinned wheels: tritonclient's defaults, /metrics, access log."""
    import numpy as np
    import tritonclient.http as triton
    from prometheus_client.parser import text_string_to_metric_families

    rows = np.asarray(sample_request(example)["inputs"][0]["data"], dtype=np.float32)
    tensor = triton.InferInput(sample_request(example)["inputs"][0]["name"], list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows)
    client = triton.InferenceServerClient(url.removeprefix("http://"), network_timeout=30)
    assert client.infer("iris", [tensor], request_id="in-container").as_numpy("predict").tolist() == [0, 2]
    client.close()
    families = {f.name: f for f in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=30).text)}
    answered = sum(s.value for s in families["modelport_requests"].samples if s.name.endswith("_total"))
    assert answered >= 5
    lines = [json.loads(line) for line in container.logs(stderr=False).decode().splitlines() if line.startswith("{")]
    assert any(line["status"] == 200 and line["route"] == "/v2/models/{name}/infer" for line in lines)
