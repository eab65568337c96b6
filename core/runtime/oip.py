"""Open Inference Protocol v2 (REST) handlers: health, server and model metadata, infer."""

from __future__ import annotations

from typing import Any

from . import __version__
from .errors import BadRequest
from .host import ModelHost
from .httpio import Request, Response, json_response, parse_json
from .tensors import decode_tensor, encode_tensor

SERVER_NAME = "modelport"


def live(host: ModelHost, request: Request) -> Response:
    """GET /v2/health/live: the process answers."""
    return json_response({"live": True})


def ready(host: ModelHost, request: Request) -> Response:
    """GET /v2/health/ready: 200 once the model is loaded, 503 before (or after a failed load)."""
    return json_response({"ready": host.ready}, 200 if host.ready else 503)


def server_metadata(host: ModelHost, request: Request) -> Response:
    """GET /v2: server name, version and protocol extensions."""
    return json_response({"name": SERVER_NAME, "version": __version__, "extensions": []})


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


def infer(host: ModelHost, request: Request) -> Response:
    """POST /v2/models/{name}[/versions/{version}]/infer (runs on a prediction thread)."""
    return json_response(infer_payload(host, parse_json(request)))


def infer_payload(host: ModelHost, body: Any) -> dict:
    """Validate an OIP inference request body, run the model, build the response body."""
    model = host.require_model()
    if not isinstance(body, dict):
        raise BadRequest("the inference request must be a JSON object with 'inputs'")
    if "id" in body and not isinstance(body["id"], str):
        raise BadRequest("'id' must be a string")
    inputs = _inputs(body.get("inputs"))
    requested = _requested_outputs(body.get("outputs"))
    results = model.infer(inputs, requested)
    payload: dict[str, Any] = {"model_name": host.config.model_name, "model_version": host.config.model_version}
    if "id" in body:
        payload["id"] = body["id"]
    payload["outputs"] = [encode_tensor(name, value) for name, value in results.items()]
    return payload


def _inputs(items: Any) -> dict:
    if not isinstance(items, list) or not items:
        raise BadRequest("'inputs' must be a non-empty list of tensors")
    inputs: dict = {}
    for index, item in enumerate(items):
        name, array = decode_tensor(item, index)
        if name in inputs:
            raise BadRequest(f"input {name!r} appears twice")
        inputs[name] = array
    return inputs


def _requested_outputs(items: Any) -> tuple[str, ...] | None:
    if items is None:
        return None
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        raise BadRequest("'outputs' must be a list of objects with a 'name'")
    return tuple(item["name"] for item in items)
