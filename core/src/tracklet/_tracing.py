"""Fluent tracing names (``mlflow.start_span``, ``mlflow.trace``, …).

tracklet has no trace store yet: each raises ``NOT_IMPLEMENTED`` with a message that
says so, rather than an ``AttributeError`` that looks like a typo. The functions are
declared with MLflow 3's parameter names so that code calling them type-checks and a
wrong call fails where MLflow's would.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Literal, NoReturn

from tracklet.exceptions import NOT_IMPLEMENTED, TrackletException

__all__ = [
    "TRACING_NAMES",
    "get_current_active_span",
    "get_last_active_trace_id",
    "get_trace",
    "log_trace",
    "search_traces",
    "start_span",
    "trace",
    "tracing_unavailable",
    "update_current_trace",
]

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


def _unavailable(name: str) -> NoReturn:
    raise tracing_unavailable(f"tracklet.{name}")


def start_span(
    name: str = "span",
    span_type: str | None = "UNKNOWN",
    attributes: dict[str, Any] | None = None,
    trace_destination: Any | None = None,
    log_level: Any | None = None,
    run_id: str | None = None,
    links: list[Any] | None = None,
    description: str | None = None,
) -> AbstractContextManager[Any]:
    """Tracing: a span as a context manager (not available yet; raises NOT_IMPLEMENTED)."""
    _unavailable("start_span")


def trace(
    func: Callable[..., Any] | None = None,
    name: str | None = None,
    span_type: str = "UNKNOWN",
    attributes: dict[str, Any] | None = None,
    output_reducer: Callable[[list[Any]], Any] | None = None,
    trace_destination: Any | None = None,
    sampling_ratio_override: float | None = None,
    log_level: Any | None = None,
    links: list[Any] | None = None,
    description: str | None = None,
) -> Callable[..., Any]:
    """Tracing: the ``@trace`` decorator (not available yet; raises NOT_IMPLEMENTED)."""
    _unavailable("trace")


def get_trace(trace_id: str, silent: bool = False, flush: bool = False) -> Any | None:
    """Tracing: one trace by id (not available yet; raises NOT_IMPLEMENTED)."""
    _unavailable("get_trace")


def search_traces(
    experiment_ids: list[str] | None = None,
    filter_string: str | None = None,
    max_results: int | None = None,
    order_by: list[str] | None = None,
    extract_fields: list[str] | None = None,
    run_id: str | None = None,
    return_type: Literal["pandas", "list"] | None = None,
    model_id: str | None = None,
    sql_warehouse_id: str | None = None,
    include_spans: bool = True,
    locations: list[str] | None = None,
    flush: bool = False,
) -> Any:
    """Tracing: search traces (not available yet; raises NOT_IMPLEMENTED)."""
    _unavailable("search_traces")


def get_current_active_span() -> Any | None:
    """Tracing: the span in progress (not available yet; raises NOT_IMPLEMENTED)."""
    _unavailable("get_current_active_span")


def get_last_active_trace_id(thread_local: bool = False) -> str | None:
    """Tracing: the id of the last trace (not available yet; raises NOT_IMPLEMENTED)."""
    _unavailable("get_last_active_trace_id")


def update_current_trace(
    tags: dict[str, str] | None = None,
    metadata: dict[str, str] | None = None,
    client_request_id: str | None = None,
    request_preview: str | None = None,
    response_preview: str | None = None,
    state: Any | None = None,
    model_id: str | None = None,
    session_id: str | None = None,
    user: str | None = None,
) -> None:
    """Tracing: tag the trace in progress (not available yet; raises NOT_IMPLEMENTED)."""
    _unavailable("update_current_trace")


def log_trace(
    name: str = "Task",
    request: Any | None = None,
    response: Any | None = None,
    intermediate_outputs: dict[str, Any] | None = None,
    attributes: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    start_time_ms: int | None = None,
    execution_time_ms: int | None = None,
) -> str:
    """Tracing: log a finished trace (not available yet; raises NOT_IMPLEMENTED)."""
    _unavailable("log_trace")
