"""Open Inference Protocol v2 (REST) handlers: health, server and model metadata, infer (JSON and
the Binary Tensor Data extension)."""

from __future__ import annotations

from typing import Any

from . import __version__
from .binary import HEADER, OCTET_STREAM, BinarySection, split_body
from .errors import BadRequest
from .host import ModelHost
from .httpio import Request, Response, dumps, json_response
from .prediction import Prediction
from .tensors import decode_tensor, encode_tensor

SERVER_NAME = "modelport"
# named as Triton names it in its server metadata (KServe's docs use the same name)
EXTENSIONS = ("binary_tensor_data",)


def live(host: ModelHost, request: Request) -> Response:
    """GET /v2/health/live: the process answers."""
    return json_response({"live": True})


def ready(host: ModelHost, request: Request) -> Response:
    """GET /v2/health/ready: 200 once the model is loaded, 503 before (or after a failed load)."""
    return json_response({"ready": host.ready}, 200 if host.ready else 503)


def server_metadata(host: ModelHost, request: Request) -> Response:
    """GET /v2: server name, version and protocol extensions."""
    return json_response({"name": SERVER_NAME, "version": __version__, "extensions": list(EXTENSIONS)})


def model_metadata(host: ModelHost, request: Request) -> Response:
    """GET /v2/models/{name}[/versions/{version}]: versions, platform, input and output tensors."""
    host.check_name(request.params["name"], request.params.get("version"))
    model = host.require_model()
    return json_response({
        "name": host.config.model_name,
        "versions": [host.config.model_version],
        "platform": model.platform,
        "inputs": [spec.as_json() for spec in model.inputs],
        "outputs": [spec.as_json() for spec in model.outputs],
    })


def model_ready(host: ModelHost, request: Request) -> Response:
    """GET /v2/models/{name}[/versions/{version}]/ready."""
    host.check_name(request.params["name"], request.params.get("version"))
    return json_response({"name": host.config.model_name, "ready": host.ready}, 200 if host.ready else 503)


def infer_checks(host: ModelHost, request: Request) -> None:
    """What infer checks on the event loop before spending a thread: the name and readiness."""
    host.check_name(request.params["name"], request.params.get("version"))
    host.require_model()


def prepare_infer(host: ModelHost, request: Request) -> Prediction:
    """POST /v2/models/{name}[/versions/{version}]/infer: JSON, or JSON plus binary tensor data."""
    body, binary = split_body(request)
    return body_prediction(host, body, binary)


def body_prediction(host: ModelHost, body: Any, binary: memoryview | None = None) -> Prediction:
    """Validate an OIP inference request body (and its binary section) into a :class:`Prediction`."""
    host.require_model()
    if not isinstance(body, dict):
        raise BadRequest("the inference request must be a JSON object with 'inputs'")
    if "id" in body and not isinstance(body["id"], str):
        raise BadRequest("'id' must be a string")
    section = BinarySection(binary)
    inputs = _inputs(body.get("inputs"), section)
    section.finish()
    all_binary = _flag(body.get("parameters"), "binary_data_output", "the request's parameters")
    requested, binary_outputs = _requested_outputs(body.get("outputs"))
    request_id = body.get("id")

    def respond(results: dict[str, Any]) -> Response:
        wants = {name: binary_outputs.get(name, all_binary) for name in results}
        return infer_response(host, request_id, results, wants)

    return Prediction(inputs, requested, respond)


def infer_response(host: ModelHost, request_id: str | None, results: dict[str, Any], binary: dict[str, bool]) -> Response:
    """The inference response; outputs flagged in ``binary`` go as raw data after the JSON."""
    payload: dict[str, Any] = {"model_name": host.config.model_name, "model_version": host.config.model_version}
    if request_id is not None:
        payload["id"] = request_id
    chunks: list[bytes] = []
    payload["outputs"] = [encode_tensor(name, value, chunks if binary[name] else None) for name, value in results.items()]
    if not any(binary.values()):
        return json_response(payload)
    header = dumps(payload)
    return Response(200, header + b"".join(chunks), content_type=OCTET_STREAM, headers={HEADER: str(len(header))})


def _inputs(items: Any, binary: BinarySection) -> dict:
    if not isinstance(items, list) or not items:
        raise BadRequest("'inputs' must be a non-empty list of tensors")
    inputs: dict = {}
    for index, item in enumerate(items):
        name, array = decode_tensor(item, index, binary)
        if name in inputs:
            raise BadRequest(f"input {name!r} appears twice")
        inputs[name] = array
    return inputs


def _requested_outputs(items: Any) -> tuple[tuple[str, ...] | None, dict[str, bool]]:
    """The requested output names (None: all) and, per name, its ``binary_data`` flag when given."""
    if items is None:
        return None, {}
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        raise BadRequest("'outputs' must be a list of objects with a 'name'")
    flags: dict[str, bool] = {}
    for item in items:
        parameters = item.get("parameters")
        where = f"output {item['name']!r}"
        if isinstance(parameters, dict) and parameters.get("classification"):
            raise BadRequest(f"{where}: classification outputs are not supported by this server")
        if isinstance(parameters, dict) and "shared_memory_region" in parameters:
            raise BadRequest(f"{where}: shared memory is not supported by this server")
        flag = _flag(parameters, "binary_data", where)
        if parameters is not None and "binary_data" in parameters:
            flags[item["name"]] = flag
    return tuple(item["name"] for item in items), flags


def _flag(parameters: Any, key: str, where: str) -> bool:
    """A boolean parameter of the binary extension (absent: False)."""
    if parameters is None:
        return False
    if not isinstance(parameters, dict):
        raise BadRequest(f"{where}: parameters must be an object")
    value = parameters.get(key, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{where}: parameter {key} must be true or false, got {value!r}")
    return value
