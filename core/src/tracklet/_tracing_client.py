"""``MlflowClient``'s trace methods (MLflow 3.17.2's signatures, seed 003's behaviour).

The imperative half (``start_trace``, ``start_span``, ``end_span``, ``end_trace``) drives
tracklet's span runtime (:mod:`tracklet.tracing.provider`) without touching the active
span context, so several traces can be built side by side; the ended trace goes to the
store through the same exporter as ``@trace``'s. Stored traces are read and changed
through :class:`tracklet.tracing.client.TracingClient`; tags go to the trace in progress
first (as MLflow). Nothing here is imported until a method is called.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from tracklet.exceptions import (
    BAD_REQUEST,
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)

if TYPE_CHECKING:
    from tracklet.entities import PagedList, Span, Trace
    from tracklet.tracing.client import TracingClient

__all__ = ["SEARCH_TRACES_DEFAULT_MAX_RESULTS", "TRACE_METHODS", "TracingClientMixin"]

#: The trace methods of ``MlflowClient`` (seed 003), for the signature checks.
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
_NO_OP_SPAN_TRACE_ID = "MLFLOW_NO_OP_SPAN_TRACE_ID"

_F = TypeVar("_F", bound=Callable[..., Any])


def _deprecated_parameter(old: str, new: str, version: str | None = None) -> Callable[[_F], _F]:
    """MLflow's ``deprecated_parameter``: ``old=`` still works (FutureWarning) as ``new=``;
    the visible signature stays the new one."""

    def decorator(func: _F) -> _F:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                value = kwargs.pop(old)
                version_msg = f" and will be removed in version {version}" if version else ""
                warnings.warn(
                    f"Parameter '{old}' is deprecated{version_msg}. Please use '{new}' instead.",
                    category=FutureWarning,
                    stacklevel=2,
                )
                if new in kwargs:
                    raise ValueError(
                        f"Cannot specify both '{old}' (deprecated) and '{new}'. Use '{new}' only."
                    )
                kwargs[new] = value
            return func(*args, **kwargs)

        wrapper.__signature__ = signature  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


class TracingClientMixin:
    """Adds the trace methods of ``MlflowClient``; the host class has ``tracking_uri``."""

    @property
    def tracking_uri(self) -> str:  # the host class's
        raise NotImplementedError

    @property
    def _tracing_client(self) -> TracingClient:
        from tracklet.tracing.client import TracingClient

        client: TracingClient | None = self.__dict__.get("_tracklet_tracing_client")
        if client is None:
            client = self.__dict__["_tracklet_tracing_client"] = TracingClient(self.tracking_uri)
        return client

    # -- stored traces ------------------------------------------------------------------

    @_deprecated_parameter("request_ids", "trace_ids")
    def delete_traces(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: list[str] | None = None,
    ) -> int:
        """Delete traces by ``trace_ids``, or those older than ``max_timestamp_millis``
        (oldest first, at most ``max_traces``); the number deleted. Seed 003's
        ``request_ids=`` is accepted (FutureWarning)."""
        return self._tracing_client.delete_traces(
            experiment_id=experiment_id,
            max_timestamp_millis=max_timestamp_millis,
            max_traces=max_traces,
            trace_ids=trace_ids,
        )

    @_deprecated_parameter("request_id", "trace_id", version="3.0.0")
    def get_trace(self, trace_id: str, display: bool = True, flush: bool = False) -> Trace:
        """The stored trace (``RESOURCE_DOES_NOT_EXIST`` if none). ``flush=True`` first waits
        for traces still being exported."""
        if flush:
            _flush()
        return self._tracing_client.get_trace(trace_id)

    @_deprecated_parameter("experiment_ids", "locations")
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
    ) -> PagedList[Trace]:
        """One page of stored traces (its ``token`` fetches the next)."""
        from tracklet.tracing.fluent import validate_list_param

        validate_list_param("experiment_ids", experiment_ids, allow_none=True)
        validate_list_param("locations", locations, allow_none=True)
        if flush:
            _flush()
        return self._tracing_client.search_traces(
            experiment_ids=experiment_ids,
            filter_string=filter_string,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
            run_id=run_id,
            include_spans=include_spans,
            model_id=model_id,
            locations=locations,
        )

    # -- building traces ----------------------------------------------------------------

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
    ) -> Span:
        """Start a new trace and return its root span (end it with :meth:`end_trace`)."""
        from tracklet.tracing import fluent

        if span := fluent.get_current_active_span():
            raise TrackletException(
                f"Another trace is already set in the global context with ID {span.trace_id}. "
                "It appears that you have already started a trace using fluent APIs like "
                "`@mlflow.trace()` or `with mlflow.start_span()`. However, it is not allowed "
                "to call MlflowClient.start_trace() under an active trace created by fluent APIs "
                "because it may lead to unexpected behavior. To resolve this issue, consider the "
                "following options:\n"
                " - To create a child span under the active trace, use "
                "`with mlflow.start_span()` or `MlflowClient.start_span()` instead.\n"
                " - To start multiple traces in parallel, avoid using fluent APIs "
                "and create all traces using `MlflowClient.start_trace()`.",
                BAD_REQUEST,
            )
        metadata = {"mlflow.sourceRun": run_id} if run_id is not None else None
        return fluent.start_span_no_context(  # type: ignore[no-any-return]
            name=name,
            span_type=span_type,
            inputs=inputs,
            attributes=attributes,
            tags=tags,
            metadata=metadata,
            experiment_id=experiment_id,
            start_time_ns=start_time_ns,
            links=links,
        )

    @_deprecated_parameter("request_id", "trace_id", version="3.0.0")
    def end_trace(
        self,
        trace_id: str,
        outputs: Any | None = None,
        attributes: dict[str, Any] | None = None,
        status: Any = "OK",
        end_time_ns: int | None = None,
    ) -> None:
        """End the trace's root span (and so the trace, once its spans have ended)."""
        from tracklet.tracing.trace_manager import InMemoryTraceManager

        if trace_id == _NO_OP_SPAN_TRACE_ID:
            return
        manager = InMemoryTraceManager.get_instance()
        root_span_id = manager.get_root_span_id(trace_id)
        if root_span_id is None:
            trace = self.get_trace(trace_id=trace_id)
            if trace is None:
                raise TrackletException(f"Trace with ID {trace_id} not found.", RESOURCE_DOES_NOT_EXIST)
            if getattr(trace.info.status, "value", trace.info.status) in ("OK", "ERROR"):
                raise TrackletException(
                    f"Trace with ID {trace_id} already finished.", INVALID_PARAMETER_VALUE
                )
            return
        if root_span := manager.get_span_from_id(trace_id, root_span_id):
            root_span.end(outputs, attributes, status, end_time_ns)

    def _log_trace(self, trace: Trace) -> str:
        """Record a finished trace again as a new trace of its experiment (MLflow's: a copy
        with a new trace id, same span ids and data; exported as any ended trace); return
        the new trace id."""
        from tracklet.tracing.provider import copy_trace_to_experiment

        return copy_trace_to_experiment(trace.to_dict(), experiment_id=trace.info.experiment_id)

    @_deprecated_parameter("request_id", "trace_id", version="3.0.0")
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
    ) -> Span:
        """Start a span under ``parent_id`` in the trace in progress ``trace_id``."""
        from tracklet.entities import NoOpSpan
        from tracklet.tracing import fluent
        from tracklet.tracing.trace_manager import InMemoryTraceManager

        if trace_id == _NO_OP_SPAN_TRACE_ID:
            return NoOpSpan()
        if not parent_id:
            raise TrackletException(
                "start_span() must be called with an explicit parent_id."
                "If you haven't started any span yet, use MLflowClient().start_trace() "
                "to start a new trace and root span.",
                INVALID_PARAMETER_VALUE,
            )
        if not trace_id:
            raise TrackletException("Trace ID must be provided to start a span.", INVALID_PARAMETER_VALUE)
        if not (parent_span := InMemoryTraceManager.get_instance().get_span_from_id(trace_id, parent_id)):
            raise TrackletException(f"Parent span with ID '{parent_id}' not found.", RESOURCE_DOES_NOT_EXIST)
        return fluent.start_span_no_context(  # type: ignore[no-any-return]
            name=name,
            span_type=span_type,
            parent_span=parent_span,
            inputs=inputs,
            attributes=attributes,
            start_time_ns=start_time_ns,
            links=links,
        )

    @_deprecated_parameter("request_id", "trace_id", version="3.0.0")
    def end_span(
        self,
        trace_id: str,
        span_id: str,
        outputs: Any | None = None,
        attributes: dict[str, Any] | None = None,
        status: Any = "OK",
        end_time_ns: int | None = None,
    ) -> None:
        """End a span of a trace in progress (an unknown span is ignored, as MLflow)."""
        from tracklet.tracing.trace_manager import InMemoryTraceManager

        if span := InMemoryTraceManager.get_instance().get_span_from_id(trace_id, span_id):
            span.end(outputs=outputs, attributes=attributes, status=status, end_time_ns=end_time_ns)

    @_deprecated_parameter("request_id", "trace_id", version="3.0.0")
    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        """Set a tag on a trace, the one in progress first, else the stored one."""
        from tracklet.tracing import fluent

        fluent._set_trace_tag(trace_id, key, value, client=self._tracing_client)

    @_deprecated_parameter("request_id", "trace_id", version="3.0.0")
    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        """Delete a tag of a trace, the one in progress first, else the stored one."""
        from tracklet.tracing import fluent

        fluent._delete_trace_tag(trace_id, key, client=self._tracing_client)


def _flush() -> None:
    from tracklet.tracing.export import flush_trace_async_logging

    flush_trace_async_logging()
