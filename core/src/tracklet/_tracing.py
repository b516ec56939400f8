"""Fluent tracing names (``mlflow.start_span``, ``mlflow.trace``, …).

tracklet has no trace store yet: each raises ``NOT_IMPLEMENTED`` with a message that
says so, rather than an ``AttributeError`` that looks like a typo.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracklet.exceptions import NOT_IMPLEMENTED, TrackletException

TRACING_NAMES = (
    "start_span",
    "trace",
    "get_trace",
    "search_traces",
    "get_current_active_span",
    "get_last_active_trace_id",
    "update_current_trace",
    "log_trace",
)


def tracing_unavailable(qualname: str) -> TrackletException:
    """The error every tracing name raises (fluent functions and client methods alike)."""
    return TrackletException(
        f"{qualname}: tracing is not available in this tracklet release (no installed plugin "
        "stores traces). Use MLflow for tracing until a tracklet tracing plugin ships.",
        NOT_IMPLEMENTED,
    )


def _unavailable(name: str) -> Callable[..., Any]:
    def function(*args: Any, **kwargs: Any) -> Any:
        raise tracing_unavailable(f"tracklet.{name}")

    function.__name__ = name
    function.__doc__ = f"Tracing: ``{name}`` (not available yet; raises NOT_IMPLEMENTED)."
    return function


for _name in TRACING_NAMES:
    globals()[_name] = _unavailable(_name)
