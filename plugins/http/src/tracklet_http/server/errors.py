"""MLflow's error answers: ``{"error_code": NAME, "message": ...}`` with the code's HTTP
status, written straight to the ASGI ``send`` callable (no response object per error).

Bad input never becomes a 500: malformed JSON, a body that is not a JSON object, a body
over the size limit and unknown paths each have their own 4xx answer here. A 500 says
``INTERNAL_ERROR`` and nothing more; the traceback goes to the server log only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tracklet.exceptions import (
    BAD_REQUEST,
    ENDPOINT_NOT_FOUND,
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    TrackletException,
    http_status_for,
)

__all__ = [
    "JSON_HEADERS",
    "error_body",
    "exception_answer",
    "http_exception_handler",
    "internal_error_handler",
    "tracklet_exception_handler",
    "send_bytes",
    "send_error",
    "status_for",
]

logger = logging.getLogger("tracklet_http.server")

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

JSON_TYPE = b"application/json"
JSON_HEADERS = ((b"content-type", JSON_TYPE),)

#: The one message a 500 carries to the client.
INTERNAL_MESSAGE = "Internal server error: the server's log has the details."


def error_body(code: str, message: str) -> bytes:
    """``{"error_code", "message"}`` as bytes."""
    return json.dumps({"error_code": code, "message": message}).encode()


#: Where the server's status differs from MLflow's (:func:`tracklet.exceptions.http_status_for`):
#: MLflow answers 500 for these, which tells clients (MLflow's included) that the server
#: failed and invites retries. They are the request's fault or a fixed limitation:
#: ``INVALID_STATE`` (writing to a deleted run, creating a run in a deleted experiment)
#: is a 400 like any other refused input; ``FEATURE_DISABLED`` (the backend store lacks
#: a capability) is 501 Not Implemented. The JSON body is unchanged.
STATUS_OVERRIDES = {"INVALID_STATE": 400, "FEATURE_DISABLED": 501}


def status_for(error_code: str) -> int:
    """The HTTP status the server answers an error code with."""
    return STATUS_OVERRIDES.get(error_code) or http_status_for(error_code)


def exception_answer(exc: BaseException, context: str = "", log: bool = True) -> tuple[int, bytes]:
    """(status, body) for an exception raised while handling a request.

    A :class:`TrackletException` answers its own code and message; anything else is a
    bug or an outage: logged with its traceback (unless ``log`` is false because the
    caller's caller logs it), answered as a bare ``INTERNAL_ERROR``.
    """
    if isinstance(exc, TrackletException):
        return status_for(exc.error_code), error_body(exc.error_code, exc.message)
    if log:
        logger.error("Unexpected error in %s", context or "a request", exc_info=exc)
    return 500, error_body(INTERNAL_ERROR, INTERNAL_MESSAGE)


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = JSON_TYPE,
    extra_headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """One complete response: start (with Content-Length) and body."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *extra_headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_error(
    send: Send, status: int, code: str, message: str, extra_headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """An MLflow error answer."""
    await send_bytes(send, status, error_body(code, message), extra_headers=extra_headers)


def bad_request(message: str) -> TrackletException:
    """A 400 about the request as a whole (not one field): malformed or oversized body."""
    return TrackletException(message, BAD_REQUEST)


def bad_parameter(message: str) -> TrackletException:
    """A 400 about one field's value."""
    return TrackletException(message, INVALID_PARAMETER_VALUE)


# -- Starlette exception handlers (paths outside the JSON API table) ----------------------------


async def http_exception_handler(request: Any, exc: Any) -> Any:
    """Starlette's 404/405 (and other HTTPExceptions) as MLflow-style JSON."""
    from starlette.responses import Response

    status = int(getattr(exc, "status_code", 500))
    headers = dict(getattr(exc, "headers", None) or {})
    if status == 404:
        body = error_body(ENDPOINT_NOT_FOUND, f"No endpoint at {request.url.path}.")
    elif status == 405:
        allowed = headers.get("Allow", headers.get("allow", ""))
        body = error_body(
            BAD_REQUEST,
            f"Method {request.method} is not allowed for {request.url.path}."
            + (f" Allowed: {allowed}." if allowed else ""),
        )
    else:
        code = {400: BAD_REQUEST, 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}.get(
            status, INTERNAL_ERROR
        )
        body = error_body(code, str(getattr(exc, "detail", "")) or "Request refused.")
    return Response(body, status_code=status, headers=headers, media_type="application/json")


async def tracklet_exception_handler(request: Any, exc: Exception) -> Any:
    """A TrackletException raised by a route (artifacts, auth): its code and message."""
    from starlette.responses import Response

    status, body = exception_answer(exc)
    return Response(body, status_code=status, media_type="application/json")


async def internal_error_handler(request: Any, exc: Exception) -> Any:
    """Anything a route raised that nothing else handled: a 500 ``INTERNAL_ERROR``.

    Starlette's outermost middleware re-raises the exception after this answer, so the
    server (uvicorn) logs the traceback once; it is not logged here too."""
    from starlette.responses import Response

    status, body = exception_answer(exc, log=False)
    return Response(body, status_code=status, media_type="application/json")
