"""KServe v1 protocol handlers: model status and ``:predict`` with ``instances``."""

from __future__ import annotations

from .errors import BadRequest
from .host import ModelHost
from .httpio import Request, Response, json_response, parse_json
from .prediction import Prediction, instances_prediction


def model_list(host: ModelHost, request: Request) -> Response:
    """GET /v1/models: the one model this server holds."""
    return json_response({"models": [host.config.model_name]})


def model_status(host: ModelHost, request: Request) -> Response:
    """GET /v1/models/{name}: ``{"name", "ready"}``; 503 while not ready."""
    host.check_name(request.params["name"])
    return json_response({"name": host.config.model_name, "ready": host.ready}, 200 if host.ready else 503)


def predict_checks(host: ModelHost, request: Request) -> None:
    """Checks made on the event loop before the prediction thread is used."""
    host.check_name(request.params["name"])
    host.require_model()


def prepare_predict(host: ModelHost, request: Request) -> Prediction:
    """POST /v1/models/{name}:predict: ``{"instances": [...]}`` -> ``{"predictions": [...]}``."""
    body = parse_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("instances", body.get("inputs")), list):
        raise BadRequest("the request must be a JSON object with an 'instances' list")
    instances = body["instances"] if "instances" in body else body["inputs"]
    return instances_prediction(host.require_model(), instances, _predictions)


def _predictions(values: list) -> Response:
    return json_response({"predictions": values})
