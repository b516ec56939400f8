"""How the CLI words a failure: one line that names the problem and what to do, no traceback.

A traceback tells a user of the command line nothing they can act on; the exception's
message does, once it sits on one line and says where to look next. ``TRACKLET_CLI_TRACEBACK=1``
brings the traceback back for whoever debugs tracklet itself.
"""

from __future__ import annotations

import os

from tracklet.exceptions import (
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
    TrackletException,
)
from tracklet.uri import masked_uri

__all__ = ["TRACEBACK_VARIABLE", "one_line", "user_message", "wants_traceback"]

#: Set to 1 to let unexpected errors raise with their traceback.
TRACEBACK_VARIABLE = "TRACKLET_CLI_TRACEBACK"

_HINTS = {
    RESOURCE_DOES_NOT_EXIST: (
        "Check the id or name: `tracklet experiments list` and `tracklet runs list` show what exists"
    ),
    RESOURCE_ALREADY_EXISTS: "Choose another name, or restore or rename the existing one",
    TEMPORARILY_UNAVAILABLE: "Check that the server is running and reachable at that address",
}


def one_line(text: str) -> str:
    """``text`` with its lines joined by spaces and a closing full stop, so that the error
    stays one line and the hint that follows reads as its own sentence."""
    joined = " ".join(part.strip() for part in text.splitlines() if part.strip()) or "(no message)"
    return joined if joined.endswith((".", "!", "?")) else joined + "."


def _where(tracking_uri: str | None) -> str:
    shown = masked_uri(tracking_uri) if tracking_uri else "none given, so the default"
    return f"tracking URI: {shown}; change it with --tracking-uri or TRACKLET_TRACKING_URI"


def user_message(exc: BaseException, tracking_uri: str | None, used_tracking: bool = True) -> str:
    """The one-line message the CLI prints for ``exc``, with a hint on what to do next.

    ``used_tracking``: whether the command went to the tracking store; only then does the
    hint name the tracking URI (``tracklet server``'s errors are about its own options).
    """
    where = f" ({_where(tracking_uri)})" if used_tracking else ""
    if isinstance(exc, TrackletException):
        hint = _HINTS.get(exc.error_code)
        message = one_line(exc.message)
        return f"{message} {hint}{where}." if hint else message
    if isinstance(exc, OSError):
        return f"{one_line(str(exc))} Check the paths and addresses given{where}."
    return (
        f"{one_line(str(exc))} ({type(exc).__name__}) Check the command's arguments{where}; "
        f"set {TRACEBACK_VARIABLE}=1 to see where it failed."
    )


def wants_traceback() -> bool:
    """True when the user asked for tracebacks of unexpected errors."""
    return os.environ.get(TRACEBACK_VARIABLE, "").strip().lower() in ("1", "true", "yes")
