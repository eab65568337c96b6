"""Every route of the three protocols, in-process, with predictions checked against the model itself."""

import joblib
import numpy as np
import onnxruntime
import pytest

from runtime_helpers import EXAMPLES, config_for, sample_request, serving


def sample_rows(example="iris"):
    return np.asarray(sample_request(example)["inputs"][0]["data"], dtype=np.float32)


def outputs_by_name(body):
    return {o["name"]: o for o in body["outputs"]}


def test_health_and_server_metadata(iris_client):
    assert iris_client.get("/v2/health/live").json() == {"live": True}
    ready = iris_client.get("/v2/health/ready")
    assert ready.status_code == 200 and ready.json() == {"ready": True}
    meta = iris_client.get("/v2").json()
    assert meta["name"] == "modelport" and "version" in meta and meta["extensions"] == ["binary_tensor_data"]


def test_model_metadata_describes_inputs_and_outputs(iris_client):
    for path in ("/v2/models/iris", "/v2/models/iris/versions/1"):
        body = iris_client.get(path).json()
        assert body["name"] == "iris" and body["versions"] == ["1"] and body["platform"] == "sklearn"
        assert body["inputs"] == [{"name": "input", "datatype": "FP64", "shape": [-1, 4]}]
        assert [o["name"] for o in body["outputs"]] == ["predict", "predict_proba"]
        assert body["outputs"][1]["shape"] == [-1, 3]
    assert iris_client.get("/v2/models/iris/ready").json() == {"name": "iris", "ready": True}
    assert iris_client.get("/v2/models/iris/versions/1/ready").status_code == 200


@pytest.mark.parametrize("path", ["/v2/models/iris/infer", "/v2/models/iris/versions/1/infer"])
def test_oip_infer_equals_calling_the_model(iris_client, path):
    model = joblib.load(EXAMPLES / "iris" / "model.joblib")
    response = iris_client.post(path, json=sample_request())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "iris" and body["model_version"] == "1" and body["id"] == "iris-sample"
    outputs = outputs_by_name(body)
    rows = sample_rows()
    assert outputs["predict"]["datatype"] == "INT64" and outputs["predict"]["shape"] == [2]
    assert outputs["predict"]["data"] == model.predict(rows).tolist()
    assert outputs["predict_proba"]["shape"] == [2, 3]
    assert outputs["predict_proba"]["data"] == model.predict_proba(rows).ravel().tolist()


def test_oip_infer_returns_only_requested_outputs(iris_client):
    body = dict(sample_request(), outputs=[{"name": "predict_proba"}])
    outputs = iris_client.post("/v2/models/iris/infer", json=body).json()["outputs"]
    assert [o["name"] for o in outputs] == ["predict_proba"]


def test_kserve_v1_status_and_predict(iris_client):
    model = joblib.load(EXAMPLES / "iris" / "model.joblib")
    assert iris_client.get("/v1/models/iris").json() == {"name": "iris", "ready": True}
    assert iris_client.get("/v1/models").json() == {"models": ["iris"]}
    rows = [[5.1, 3.5, 1.4, 0.2], [6.3, 2.8, 5.1, 1.5], [6.0, 2.2, 5.0, 1.5]]
    response = iris_client.post("/v1/models/iris:predict", json={"instances": rows})
    assert response.status_code == 200
    assert response.json() == {"predictions": model.predict(np.array(rows)).tolist()}
    named = iris_client.post("/v1/models/iris:predict", json={"instances": [{"input": row} for row in rows]})
    assert named.json() == response.json()


def test_sagemaker_ping_and_invocations_json_list_csv(iris_client):
    model = joblib.load(EXAMPLES / "iris" / "model.joblib")
    rows = [[5.1, 3.5, 1.4, 0.2], [6.3, 2.8, 5.1, 1.5]]
    expected = model.predict(np.array(rows)).tolist()
    assert iris_client.get("/ping").status_code == 200
    assert iris_client.post("/invocations", json={"instances": rows}).json() == {"predictions": expected}
    assert iris_client.post("/invocations", json=rows).json() == {"predictions": expected}
    csv_body = "5.1,3.5,1.4,0.2\n6.3,2.8,5.1,1.5\n"
    answer = iris_client.post("/invocations", content=csv_body, headers={"content-type": "text/csv"})
    assert answer.json() == {"predictions": expected}
    as_csv = iris_client.post("/invocations", content=csv_body,
                              headers={"content-type": "text/csv", "accept": "text/csv"})
    assert as_csv.headers["content-type"] == "text/csv"
    assert as_csv.text == "".join(f"{p}\n" for p in expected)


def test_sagemaker_invocations_accepts_an_oip_body(iris_client):
    body = iris_client.post("/invocations", json=sample_request()).json()
    assert body["model_name"] == "iris" and outputs_by_name(body)["predict"]["data"] == [0, 2]


def test_head_answers_like_get_without_body(iris_client):
    response = iris_client.head("/v2/health/ready")
    assert response.status_code == 200 and response.content == b""


def test_onnx_model_matches_onnxruntime_and_sklearn_labels():
    session = onnxruntime.InferenceSession(str(EXAMPLES / "onnx-iris" / "model.onnx"),
                                           providers=["CPUExecutionProvider"])
    expected_labels, expected_proba = session.run(None, {"input": sample_rows()})
    with serving(config_for("onnx-iris")) as client:
        meta = client.get("/v2/models/iris").json()
        assert meta["platform"] == "onnxruntime_onnx"
        assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]
        outputs = outputs_by_name(client.post("/v2/models/iris/infer", json=sample_request("onnx-iris")).json())
        assert outputs["predict"]["data"] == expected_labels.tolist()
        assert outputs["predict_proba"]["datatype"] == "FP32"
        # FP32 is written with float32's shortest digits; read back as float32 it is the same number
        assert np.array_equal(np.asarray(outputs["predict_proba"]["data"], dtype=np.float32), expected_proba.ravel())
        v1 = client.post("/v1/models/iris:predict", json={"instances": sample_rows().tolist()}).json()
        assert v1 == {"predictions": expected_labels.tolist()}
        fp64 = dict(sample_request("onnx-iris"))
        fp64["inputs"] = [dict(fp64["inputs"][0], datatype="FP64")]
        assert outputs_by_name(client.post("/v2/models/iris/infer", json=fp64).json())["predict"]["data"] == [0, 2]


def test_custom_python_model_matches_its_predict_function():
    import importlib.util

    spec = importlib.util.spec_from_file_location("example_predict", EXAMPLES / "custom-python" / "predict.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.load(str(EXAMPLES / "custom-python" / "model.json"))
    expected = module.predict(model, sample_rows().astype(np.float64))
    with serving(config_for("custom-python")) as client:
        meta = client.get("/v2/models/iris").json()
        assert meta["platform"] == "custom_python" and meta["outputs"][1]["name"] == "distance"
        outputs = outputs_by_name(client.post("/v2/models/iris/infer", json=sample_request("custom-python")).json())
        assert outputs["predict"]["data"] == expected["predict"].tolist()
        assert np.allclose(outputs["distance"]["data"], expected["distance"].ravel(), rtol=1e-6)
        v1 = client.post("/v1/models/iris:predict", json={"instances": sample_rows().tolist()}).json()
        assert v1 == {"predictions": expected["predict"].tolist()}


def test_iris_v2_answers_differently_from_v1():
    with serving(config_for("iris-v2", model_version="2")) as client:
        body = client.post("/v2/models/iris/versions/2/infer", json=sample_request("iris-v2")).json()
        assert body["model_version"] == "2"
        v2 = outputs_by_name(body)
        assert client.post("/v2/models/iris/versions/1/infer", json=sample_request()).status_code == 404
    with serving(config_for("iris")) as client:
        v1 = outputs_by_name(client.post("/v2/models/iris/infer", json=sample_request()).json())
    assert v1["predict"]["data"] != v2["predict"]["data"]
    assert v1["predict_proba"]["data"] != v2["predict_proba"]["data"]


def test_inline_prediction_mode_gives_the_same_answers():
    with serving(config_for("iris", predict_threads=0)) as client:
        outputs = outputs_by_name(client.post("/v2/models/iris/infer", json=sample_request()).json())
    assert outputs["predict"]["data"] == [0, 2]


ROUND_TRIP = [("BOOL", [[True, False], [False, True]]), ("INT8", [[-128, 127], [0, 1]]),
              ("INT16", [[-3, 4], [5, 6]]), ("INT32", [[1, 2], [3, 4]]), ("INT64", [[2**40, 2], [3, 4]]),
              ("UINT8", [[0, 255], [1, 2]]), ("UINT16", [[1, 2], [3, 65535]]), ("UINT32", [[1, 2], [3, 4]]),
              ("UINT64", [[2**63, 2], [3, 4]]), ("FP16", [[0.5, 1.5], [2.0, -1.0]]),
              ("FP32", [[0.25, 1.5], [2.0, -1.0]]), ("FP64", [[0.1, 1e-300], [2.0, -1.0]]),
              ("BYTES", [["a", "ü"], ["", "d"]])]


@pytest.mark.parametrize("datatype,data", ROUND_TRIP, ids=[r[0] for r in ROUND_TRIP])
def test_every_datatype_round_trips_through_a_custom_model(tmp_path, datatype, data):
    (tmp_path / "predict.py").write_text("def load(path):\n    return None\n\n"
                                         "def predict(model, inputs):\n    return {'echo': inputs}\n")
    config = config_for("iris", framework="custom", predict_file=tmp_path / "predict.py", model_path=tmp_path)
    request = {"inputs": [{"name": "x", "datatype": datatype, "shape": [2, 2], "data": data}]}
    with serving(config) as client:
        response = client.post("/v2/models/iris/infer", json=request)
    assert response.status_code == 200, response.text
    echo = response.json()["outputs"][0]
    assert echo == {"name": "echo", "datatype": datatype, "shape": [2, 2], "data": [v for row in data for v in row]}
