"""Errors raised by tracklet, with MLflow's error codes and HTTP statuses.

``MlflowException`` is an alias of :class:`TrackletException` so code written for
MLflow (``except mlflow.exceptions.MlflowException``) keeps working.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "ERROR_CODES",
    "INTERNAL_ERROR",
    "TEMPORARILY_UNAVAILABLE",
    "IO_ERROR",
    "BAD_REQUEST",
    "SERVICE_UNDER_MAINTENANCE",
    "WORKSPACE_TEMPORARILY_UNAVAILABLE",
    "DEADLINE_EXCEEDED",
    "CANCELLED",
    "RESOURCE_EXHAUSTED",
    "ABORTED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "UNAUTHENTICATED",
    "INVALID_PARAMETER_VALUE",
    "ENDPOINT_NOT_FOUND",
    "MALFORMED_REQUEST",
    "INVALID_STATE",
    "PERMISSION_DENIED",
    "FEATURE_DISABLED",
    "CUSTOMER_UNAUTHORIZED",
    "REQUEST_LIMIT_EXCEEDED",
    "RESOURCE_CONFLICT",
    "UNPARSEABLE_HTTP_ERROR",
    "NOT_IMPLEMENTED",
    "DATA_LOSS",
    "INVALID_STATE_TRANSITION",
    "COULD_NOT_ACQUIRE_LOCK",
    "RESOURCE_ALREADY_EXISTS",
    "RESOURCE_DOES_NOT_EXIST",
    "QUOTA_EXCEEDED",
    "MAX_BLOCK_SIZE_EXCEEDED",
    "MAX_READ_SIZE_EXCEEDED",
    "PARTIAL_DELETE",
    "MAX_LIST_SIZE_EXCEEDED",
    "MlflowException",
    "TrackletException",
    "RestException",
    "http_status_for",
]

#: MLflow's error codes (``databricks.proto`` ``ErrorCode``, the ones below 5000 that its
#: tracking server and clients use): name -> number.
ERROR_CODES: dict[str, int] = {
    "INTERNAL_ERROR": 1,
    "TEMPORARILY_UNAVAILABLE": 2,
    "IO_ERROR": 3,
    "BAD_REQUEST": 4,
    "SERVICE_UNDER_MAINTENANCE": 5,
    "WORKSPACE_TEMPORARILY_UNAVAILABLE": 6,
    "DEADLINE_EXCEEDED": 7,
    "CANCELLED": 8,
    "RESOURCE_EXHAUSTED": 9,
    "ABORTED": 10,
    "NOT_FOUND": 11,
    "ALREADY_EXISTS": 12,
    "UNAUTHENTICATED": 13,
    "INVALID_PARAMETER_VALUE": 1000,
    "ENDPOINT_NOT_FOUND": 1001,
    "MALFORMED_REQUEST": 1002,
    "INVALID_STATE": 1003,
    "PERMISSION_DENIED": 1004,
    "FEATURE_DISABLED": 1005,
    "CUSTOMER_UNAUTHORIZED": 1006,
    "REQUEST_LIMIT_EXCEEDED": 1007,
    "RESOURCE_CONFLICT": 1008,
    "UNPARSEABLE_HTTP_ERROR": 1009,
    "NOT_IMPLEMENTED": 1010,
    "DATA_LOSS": 1011,
    "INVALID_STATE_TRANSITION": 2001,
    "COULD_NOT_ACQUIRE_LOCK": 2002,
    "RESOURCE_ALREADY_EXISTS": 3001,
    "RESOURCE_DOES_NOT_EXIST": 3002,
    "QUOTA_EXCEEDED": 4001,
    "MAX_BLOCK_SIZE_EXCEEDED": 4002,
    "MAX_READ_SIZE_EXCEEDED": 4003,
    "PARTIAL_DELETE": 4004,
    "MAX_LIST_SIZE_EXCEEDED": 4005,
}
_NAMES_BY_NUMBER = {number: name for name, number in ERROR_CODES.items()}

# One constant per code, spelled as MLflow's ``mlflow.protos.databricks_pb2`` names them
# (tracklet passes codes by name: ``TrackletException(message, INVALID_PARAMETER_VALUE)``).
INTERNAL_ERROR = "INTERNAL_ERROR"
TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
IO_ERROR = "IO_ERROR"
BAD_REQUEST = "BAD_REQUEST"
SERVICE_UNDER_MAINTENANCE = "SERVICE_UNDER_MAINTENANCE"
WORKSPACE_TEMPORARILY_UNAVAILABLE = "WORKSPACE_TEMPORARILY_UNAVAILABLE"
DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
CANCELLED = "CANCELLED"
RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
ABORTED = "ABORTED"
NOT_FOUND = "NOT_FOUND"
ALREADY_EXISTS = "ALREADY_EXISTS"
UNAUTHENTICATED = "UNAUTHENTICATED"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
MALFORMED_REQUEST = "MALFORMED_REQUEST"
INVALID_STATE = "INVALID_STATE"
PERMISSION_DENIED = "PERMISSION_DENIED"
FEATURE_DISABLED = "FEATURE_DISABLED"
CUSTOMER_UNAUTHORIZED = "CUSTOMER_UNAUTHORIZED"
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
UNPARSEABLE_HTTP_ERROR = "UNPARSEABLE_HTTP_ERROR"
NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
DATA_LOSS = "DATA_LOSS"
INVALID_STATE_TRANSITION = "INVALID_STATE_TRANSITION"
COULD_NOT_ACQUIRE_LOCK = "COULD_NOT_ACQUIRE_LOCK"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
MAX_BLOCK_SIZE_EXCEEDED = "MAX_BLOCK_SIZE_EXCEEDED"
MAX_READ_SIZE_EXCEEDED = "MAX_READ_SIZE_EXCEEDED"
PARTIAL_DELETE = "PARTIAL_DELETE"
MAX_LIST_SIZE_EXCEEDED = "MAX_LIST_SIZE_EXCEEDED"

# The HTTP status MLflow's server answers with for each code; others map to 500.
_HTTP_STATUS: dict[str, int] = {
    "BAD_REQUEST": 400,
    "INVALID_PARAMETER_VALUE": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "ALREADY_EXISTS": 409,
    "INVALID_STATE": 500,
    "CUSTOMER_UNAUTHORIZED": 401,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "ENDPOINT_NOT_FOUND": 404,
    "NOT_FOUND": 404,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "RESOURCE_CONFLICT": 409,
    "ABORTED": 409,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL_ERROR": 500,
    "DATA_LOSS": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


def _code_name(error_code: str | int) -> str:
    if isinstance(error_code, int):
        return _NAMES_BY_NUMBER.get(error_code, INTERNAL_ERROR)
    return error_code if error_code in ERROR_CODES else INTERNAL_ERROR


def http_status_for(error_code: str | int) -> int:
    """The HTTP status that goes with an MLflow error code (500 when unknown)."""
    return _HTTP_STATUS.get(_code_name(error_code), 500)


class TrackletException(Exception):
    """An error with an MLflow error code.

    :param message: what went wrong and what to do next.
    :param error_code: an MLflow error code, by name (``"INVALID_PARAMETER_VALUE"``)
        or by number (``1000``); defaults to ``INTERNAL_ERROR``.
    """

    def __init__(self, message: object, error_code: str | int = INTERNAL_ERROR, **kwargs: Any) -> None:
        self.message = str(message)
        self.error_code = _code_name(error_code)
        self.json_kwargs = kwargs
        super().__init__(self.message)

    def serialize_as_json(self) -> str:
        """The error as MLflow's REST body: ``{"error_code", "message"}``."""
        return json.dumps({"error_code": self.error_code, "message": self.message, **self.json_kwargs})

    def get_http_status_code(self) -> int:
        """The HTTP status MLflow's server would answer with."""
        return http_status_for(self.error_code)

    @classmethod
    def invalid_parameter_value(cls, message: str, **kwargs: Any) -> TrackletException:
        """Shorthand for an ``INVALID_PARAMETER_VALUE`` error."""
        return cls(message, INVALID_PARAMETER_VALUE, **kwargs)


MlflowException = TrackletException


class RestException(TrackletException):
    """An error answered by a tracking server, carrying its JSON body."""

    def __init__(self, json_body: dict[str, Any]) -> None:
        code = json_body.get("error_code", INTERNAL_ERROR)
        message = f"{code}: {json_body.get('message', '')}"
        super().__init__(message, code)
        self.json = json_body
