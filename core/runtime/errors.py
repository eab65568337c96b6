"""Typed errors of the serving runtime. Each request error carries the HTTP status it maps to."""

import logging


class RuntimeConfigError(Exception):
    """The runtime's environment is wrong (missing model path, unknown framework, bad number)."""


class ModelLoadError(Exception):
    """The model file could not be loaded by its framework."""


class RequestError(Exception):
    """A request the runtime answers with an error body ``{"error": message}``.

    Subclasses fix the status code; the message says what the caller must change.
    """

    status = 400

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(RequestError):
    """The request is malformed or does not fit the model's inputs (400)."""

    status = 400


class Unauthorized(RequestError):
    """The route needs an API key and the request carries none (401)."""

    status = 401


class Forbidden(RequestError):
    """The request's API key is not the one the runtime was started with (403)."""

    status = 403


class NotFound(RequestError):
    """Unknown route, model name or model version (404)."""

    status = 404


class MethodNotAllowed(RequestError):
    """The route exists but not for this HTTP method (405)."""

    status = 405


class PayloadTooLarge(RequestError):
    """The body is larger than MODELPORT_MAX_BODY_BYTES (413)."""

    status = 413


class UriTooLong(RequestError):
    """The request target (path and query) is longer than the runtime reads (414)."""

    status = 414


class HeadersTooLarge(RequestError):
    """The request's header fields together are larger than the runtime reads (431)."""

    status = 431


class UnsupportedMediaType(RequestError):
    """The Content-Type is not one this route reads (415)."""

    status = 415


class ModelNotReady(RequestError):
    """The model is still loading or failed to load (503)."""

    status = 503


class ModelFailed(RequestError):
    """The model raised an unexpected exception while predicting (500); the server stays up."""

    status = 500


def model_failure(exc: Exception) -> ModelFailed:
    """The 500 answered when the model raised ``exc``: its type and message, the traceback logged."""
    logging.getLogger(__name__).error("prediction failed", exc_info=exc)
    failure = ModelFailed(f"the model failed: {type(exc).__name__}: {exc}")
    failure.__cause__ = exc
    return failure


class InternalError(RequestError):
    """A bug in the runtime itself (500); logged with its traceback, answered with a body."""

    status = 500
