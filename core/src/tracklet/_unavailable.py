"""Client methods tracklet does not have yet: tracing.

Tracing has no store contract yet: its methods raise a clear ``NOT_IMPLEMENTED``. (The
model registry's methods, once here, are real now: :mod:`tracklet._model_registry`;
``REGISTRY_METHODS`` still lists their names, for the signature checks.)

Every method is declared with ``MlflowClient``'s parameter names (MLflow 3.17), so user
code calling them type-checks, and a misspelled argument fails as it would in MLflow.
"""

from __future__ import annotations

from typing import Any, NoReturn

from tracklet._model_registry import LOGGED_MODEL_METHODS, REGISTRY_METHODS
from tracklet._tracing import tracing_unavailable

__all__ = ["LOGGED_MODEL_METHODS", "REGISTRY_METHODS", "TRACE_METHODS", "TracingMixin"]

TRACE_METHODS = (
    "start_trace",
    "end_trace",
    "get_trace",
    "search_traces",
    "delete_traces",
    "start_span",
    "end_span",
    "set_trace_tag",
    "delete_trace_tag",
)

SEARCH_TRACES_DEFAULT_MAX_RESULTS = 100


def _no_tracing(method: str) -> NoReturn:
    raise tracing_unavailable(f"MlflowClient.{method}")


class TracingMixin:
    """Adds the tracing methods of ``MlflowClient`` (each raises NOT_IMPLEMENTED)."""

    # -- tracing (not available yet: NOT_IMPLEMENTED) ---------------------------------------

    def start_trace(
        self,
        name: str,
        span_type: str = "UNKNOWN",
        inputs: Any | None = None,
        attributes: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        experiment_id: str | None = None,
        start_time_ns: int | None = None,
        run_id: str | None = None,
        links: list[Any] | None = None,
    ) -> Any:
        """Tracing: start a trace (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("start_trace")

    def end_trace(
        self,
        trace_id: str,
        outputs: Any | None = None,
        attributes: dict[str, Any] | None = None,
        status: Any = "OK",
        end_time_ns: int | None = None,
    ) -> None:
        """Tracing: end a trace (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("end_trace")

    def get_trace(self, trace_id: str, display: bool = True, flush: bool = False) -> Any:
        """Tracing: one trace by id (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("get_trace")

    def search_traces(
        self,
        experiment_ids: list[str] | None = None,
        filter_string: str | None = None,
        max_results: int = SEARCH_TRACES_DEFAULT_MAX_RESULTS,
        order_by: list[str] | None = None,
        page_token: str | None = None,
        run_id: str | None = None,
        include_spans: bool = True,
        model_id: str | None = None,
        locations: list[str] | None = None,
        flush: bool = False,
    ) -> Any:
        """Tracing: search traces (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("search_traces")

    def delete_traces(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: list[str] | None = None,
    ) -> int:
        """Tracing: delete traces (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("delete_traces")

    def start_span(
        self,
        name: str,
        trace_id: str,
        parent_id: str,
        span_type: str = "UNKNOWN",
        inputs: Any | None = None,
        attributes: dict[str, Any] | None = None,
        start_time_ns: int | None = None,
        links: list[Any] | None = None,
    ) -> Any:
        """Tracing: start a span (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("start_span")

    def end_span(
        self,
        trace_id: str,
        span_id: str,
        outputs: Any | None = None,
        attributes: dict[str, Any] | None = None,
        status: Any = "OK",
        end_time_ns: int | None = None,
    ) -> None:
        """Tracing: end a span (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("end_span")

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        """Tracing: set a tag on a trace (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("set_trace_tag")

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        """Tracing: delete a tag of a trace (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("delete_trace_tag")
