"""google.rpc.Status errors in the JSON shape Google REST APIs answer with."""

from __future__ import annotations

# Canonical gRPC codes with the HTTP status Google's REST front end maps each to.
CODES = {
    "INVALID_ARGUMENT": (3, 400),
    "FAILED_PRECONDITION": (9, 400),
    "OUT_OF_RANGE": (11, 400),
    "NOT_FOUND": (5, 404),
    "ALREADY_EXISTS": (6, 409),
    "ABORTED": (10, 409),
    "PERMISSION_DENIED": (7, 403),
    "UNIMPLEMENTED": (12, 501),
    "INTERNAL": (13, 500),
}


class ApiError(Exception):
    """An API error: a google.rpc status name, a message and optional field violations."""

    def __init__(self, status: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    @property
    def grpc_code(self) -> int:
        """The numeric google.rpc.Code."""
        return CODES[self.status][0]

    @property
    def http_status(self) -> int:
        """The HTTP status the REST front end answers with."""
        return CODES[self.status][1]

    def details(self) -> list[dict]:
        """google.rpc error details (a BadRequest field violation when a field is known)."""
        if not self.field:
            return []
        return [{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": self.field, "description": self.message}],
        }]

    def http_body(self) -> dict:
        """The body of an HTTP error reply: {"error": {code, message, status, details}}."""
        body = {"code": self.http_status, "message": self.message, "status": self.status}
        if self.details():
            body["details"] = self.details()
        return {"error": body}

    def rpc_status(self) -> dict:
        """A google.rpc.Status, as set in a failed Operation's `error`."""
        status = {"code": self.grpc_code, "message": self.message}
        if self.details():
            status["details"] = self.details()
        return status


def invalid(message: str, field: str | None = None) -> ApiError:
    """INVALID_ARGUMENT (400) for a request the API refuses to accept."""
    return ApiError("INVALID_ARGUMENT", message, field)


def not_found(message: str) -> ApiError:
    """NOT_FOUND (404)."""
    return ApiError("NOT_FOUND", message)


def precondition(message: str) -> ApiError:
    """FAILED_PRECONDITION (400): the request is valid but the resource's state forbids it."""
    return ApiError("FAILED_PRECONDITION", message)
