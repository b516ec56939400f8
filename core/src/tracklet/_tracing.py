"""Fluent tracing names of ``tracklet`` (``tracklet.trace``, ``tracklet.start_span``, …).

``tracklet/__init__`` maps each name of :data:`TRACING_NAMES` here lazily, so ``import
tracklet`` loads no tracing module; the first use of one of these names loads
:mod:`tracklet.tracing.fluent` (stdlib only). Signatures are MLflow 3.17's.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas

    from tracklet.entities import LiveSpan, Trace
    from tracklet.tracing.fluent import _SpanScope

__all__ = [
    "TRACING_NAMES",
    "add_trace",
    "delete_trace_tag",
    "flush_trace_async_logging",
    "get_active_trace_id",
    "set_trace_tag",
    "start_span_no_context",
    "get_current_active_span",
    "get_last_active_trace_id",
    "get_trace",
    "log_trace",
    "search_traces",
    "start_span",
    "trace",
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
    "get_active_trace_id",
    "set_trace_tag",
    "delete_trace_tag",
    "start_span_no_context",
    "flush_trace_async_logging",
    "add_trace",
)


def start_span(
    name: str = "span",
    span_type: str | None = "UNKNOWN",
    attributes: dict[str, Any] | None = None,
    trace_destination: Any | None = None,
    log_level: Any | None = None,
    run_id: str | None = None,
    links: list[Any] | None = None,
    description: str | None = None,
) -> _SpanScope:
    """A span as a context manager, yielding the live span (MLflow's ``mlflow.start_span``)."""
    from tracklet.tracing import fluent

    return fluent.start_span(
        name, span_type, attributes, trace_destination, log_level, run_id, links, description
    )


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
    """The ``@trace`` decorator (MLflow's ``mlflow.trace``): sync, async and generator functions."""
    from tracklet.tracing import fluent

    return fluent.trace(
        func,
        name=name,
        span_type=span_type,
        attributes=attributes,
        output_reducer=output_reducer,
        trace_destination=trace_destination,
        sampling_ratio_override=sampling_ratio_override,
        log_level=log_level,
        links=links,
        description=description,
    )


def _get_trace_signature(trace_id: str, silent: bool = False, flush: bool = False) -> Trace | None:
    raise NotImplementedError  # only its signature is used


def get_trace(*args: Any, **kwargs: Any) -> Trace | None:
    """One stored trace by id, or None (MLflow's ``mlflow.get_trace(trace_id, silent=False,
    flush=False)``; ``request_id=`` is accepted with MLflow's FutureWarning)."""
    from tracklet.tracing import fluent

    return fluent.get_trace(*args, **kwargs)


get_trace.__signature__ = inspect.signature(_get_trace_signature)  # type: ignore[attr-defined]


def _search_traces_signature(
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
) -> pandas.DataFrame | list[Trace]:
    raise NotImplementedError  # only its signature is used


def search_traces(*args: Any, **kwargs: Any) -> pandas.DataFrame | list[Trace]:
    """Search stored traces (MLflow's ``mlflow.search_traces``): a DataFrame or, with
    ``return_type="list"``, a list. ``experiment_ids=`` works with MLflow's FutureWarning
    (use ``locations=``)."""
    from tracklet.tracing import fluent

    return fluent.search_traces(*args, **kwargs)


search_traces.__signature__ = inspect.signature(_search_traces_signature)  # type: ignore[attr-defined]


def get_current_active_span() -> LiveSpan | None:
    """The span the calling code runs in, or None."""
    from tracklet.tracing import fluent

    return fluent.get_current_active_span()


def get_last_active_trace_id(thread_local: bool = False) -> str | None:
    """The id of the trace that ended last (process-wide, or this thread's)."""
    from tracklet.tracing import fluent

    return fluent.get_last_active_trace_id(thread_local)


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
    """Tag the trace in progress, set its metadata, previews or state (MLflow's)."""
    from tracklet.tracing import fluent

    fluent.update_current_trace(
        tags=tags,
        metadata=metadata,
        client_request_id=client_request_id,
        request_preview=request_preview,
        response_preview=response_preview,
        state=state,
        model_id=model_id,
        session_id=session_id,
        user=user,
    )


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
    """Record a finished single-span trace; return its id (MLflow's ``mlflow.log_trace``)."""
    from tracklet.tracing import fluent

    return fluent.log_trace(
        name=name,
        request=request,
        response=response,
        intermediate_outputs=intermediate_outputs,
        attributes=attributes,
        tags=tags,
        start_time_ms=start_time_ms,
        execution_time_ms=execution_time_ms,
    )


def get_active_trace_id() -> str | None:
    """The id of the trace the calling code runs in, or None (MLflow's)."""
    from tracklet.tracing import fluent

    return fluent.get_active_trace_id()


def _set_trace_tag_signature(trace_id: str, key: str, value: str) -> None:
    raise NotImplementedError  # only its signature is used


def set_trace_tag(*args: Any, **kwargs: Any) -> None:
    """Set a tag on a trace, in progress or stored (MLflow's ``mlflow.set_trace_tag``;
    ``request_id=`` is accepted with MLflow's FutureWarning)."""
    from tracklet.tracing import fluent

    fluent.set_trace_tag(*args, **kwargs)


set_trace_tag.__signature__ = inspect.signature(_set_trace_tag_signature)  # type: ignore[attr-defined]


def _delete_trace_tag_signature(trace_id: str, key: str) -> None:
    raise NotImplementedError  # only its signature is used


def delete_trace_tag(*args: Any, **kwargs: Any) -> None:
    """Delete a tag of a trace, in progress or stored (MLflow's ``mlflow.delete_trace_tag``)."""
    from tracklet.tracing import fluent

    fluent.delete_trace_tag(*args, **kwargs)


delete_trace_tag.__signature__ = inspect.signature(_delete_trace_tag_signature)  # type: ignore[attr-defined]


def start_span_no_context(
    name: str,
    span_type: str = "UNKNOWN",
    parent_span: LiveSpan | None = None,
    inputs: Any | None = None,
    attributes: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    metadata: dict[str, str] | None = None,
    experiment_id: str | None = None,
    start_time_ns: int | None = None,
    log_level: Any | None = None,
    links: list[Any] | None = None,
    description: str | None = None,
) -> LiveSpan:
    """A span that is not made the active one; end it with ``span.end()`` (MLflow's)."""
    from tracklet.tracing import fluent

    return fluent.start_span_no_context(  # type: ignore[no-any-return]
        name=name,
        span_type=span_type,
        parent_span=parent_span,
        inputs=inputs,
        attributes=attributes,
        tags=tags,
        metadata=metadata,
        experiment_id=experiment_id,
        start_time_ns=start_time_ns,
        log_level=log_level,
        links=links,
        description=description,
    )


def flush_trace_async_logging(terminate: bool = False) -> None:
    """Wait until every ended trace has been written to its destination (MLflow's)."""
    from tracklet.tracing import export

    export.flush_trace_async_logging(terminate=terminate)


def add_trace(trace: Trace | dict[str, Any], target: LiveSpan | None = None) -> None:
    """Put a finished trace under ``target`` or the active span (MLflow's ``mlflow.add_trace``)."""
    from tracklet.tracing import fluent

    fluent.add_trace(trace, target)
