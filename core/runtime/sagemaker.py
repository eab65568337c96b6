"""The SageMaker hosting contract: ``GET /ping`` and ``POST /invocations`` (JSON, CSV, or an OIP body)."""

from __future__ import annotations

import csv
import io
from typing import Any

from .binary import HEADER
from .errors import BadRequest, UnsupportedMediaType
from .host import ModelHost
from .httpio import Request, Response, is_json_type, json_response, loads
from .oip import body_prediction, prepare_infer
from .prediction import Prediction, instances_prediction

CSV_TYPE = "text/csv"


def ping(host: ModelHost, request: Request) -> Response:
    """GET /ping: 200 once the model is loaded, 503 before."""
    return json_response({"status": "healthy" if host.ready else "loading"}, 200 if host.ready else 503)


def invocations_checks(host: ModelHost, request: Request) -> None:
    """Checks made on the event loop before the prediction thread is used."""
    host.require_model()


def prepare_invocations(host: ModelHost, request: Request) -> Prediction:
    """POST /invocations: JSON ``{"instances": ...}``, a bare JSON list, an OIP v2 body (JSON or with
    binary tensors), or CSV rows."""
    model = host.require_model()
    if request.media_type == CSV_TYPE:
        instances: Any = _csv_rows(request.body)
    elif HEADER in request.headers:
        return prepare_infer(host, request)
    elif is_json_type(request.media_type):
        body = loads(request.body)
        if isinstance(body, dict) and "inputs" in body and _looks_like_tensors(body["inputs"]):
            return body_prediction(host, body)
        instances = body.get("instances") if isinstance(body, dict) else body
    else:
        raise UnsupportedMediaType(f"Content-Type {request.media_type!r} is not supported; send application/json or text/csv")
    if not isinstance(instances, list):
        raise BadRequest("send {\"instances\": [...]}, a JSON list of rows, or CSV rows")
    as_csv = CSV_TYPE in request.headers.get("accept", "")
    return instances_prediction(model, instances, _csv_answer if as_csv else _json_answer)


def _json_answer(predictions: list) -> Response:
    return json_response({"predictions": predictions})


def _csv_answer(predictions: list) -> Response:
    return Response(200, _csv_text(predictions).encode(), content_type=CSV_TYPE)


def _looks_like_tensors(items: Any) -> bool:
    return isinstance(items, list) and bool(items) and all(isinstance(i, dict) and "datatype" in i for i in items)


def _csv_rows(body: bytes) -> list[list[float]]:
    try:
        text = body.decode("utf-8")
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
        return [[float(cell) for cell in row] for row in rows]
    except (UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise BadRequest(f"CSV input must be rows of numbers: {exc}") from None


def _csv_text(predictions: list) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for item in predictions:
        writer.writerow(item if isinstance(item, list) else [item])
    return out.getvalue()
