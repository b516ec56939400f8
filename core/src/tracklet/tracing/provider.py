"""Span creation and the active-span context: tracklet's own span runtime.

No OpenTelemetry SDK: the active span is a :class:`contextvars.ContextVar` (so it
follows ``asyncio`` tasks and ``contextvars.copy_context().run``; a new
``threading.Thread`` starts with no active span, so a span started there begins a new
trace, as in MLflow), ids are OpenTelemetry-compatible random integers (trace id 128
bits, span id 64 bits; MLflow trace id ``"tr-" + 32 hex``). No sampling.

When a span ends, :func:`_on_span_end` checks whether its trace is complete (root
ended, no span open) and if so pops it from the
:class:`~tracklet.tracing.trace_manager.InMemoryTraceManager`, finalises its info as
MLflow's span processor does (request time, duration, state from the root span,
input/output previews) and hands it to the exporter.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from tracklet import tracing
from tracklet.entities.span import NO_OP_SPAN_TRACE_ID, LiveSpan, NoOpSpan
from tracklet.entities.trace_info import TraceInfo
from tracklet.entities.trace_location import TraceLocation
from tracklet.entities.trace_state import TraceState
from tracklet.tracing.constant import SpanAttributeKey, TraceMetadataKey, TraceTagKey
from tracklet.tracing.trace_manager import InMemoryTraceManager, _Trace

if TYPE_CHECKING:
    pass

__all__ = [
    "generate_span_id",
    "generate_trace_id",
    "get_current_span",
    "safe_set_span_in_context",
    "start_detached_span",
    "start_span_in_context",
    "with_active_span",
]

_logger = logging.getLogger("tracklet.tracing")

#: The span the code runs in (None: no trace in progress in this context).
_ACTIVE_SPAN: ContextVar[Any] = ContextVar("tracklet_active_span", default=None)

_MAX_CHARS_IN_TRACE_INFO_METADATA = 250
_TRUNCATION_SUFFIX = "..."


def generate_trace_id() -> int:
    """A random, non-zero 128-bit trace id (OpenTelemetry's rule)."""
    while True:
        value = random.getrandbits(128)
        if value:
            return value


def generate_span_id() -> int:
    """A random, non-zero 64-bit span id."""
    while True:
        value = random.getrandbits(64)
        if value:
            return value


def get_current_span() -> Any:
    """The active span of this context if its trace is still live in this process."""
    span = _ACTIVE_SPAN.get()
    if span is None:
        return None
    if InMemoryTraceManager.get_instance().get_span_from_id(span.trace_id, span.span_id) is None:
        # the trace ended (or this is a forked child, which starts with no live traces)
        return None
    return span


@contextlib.contextmanager
def with_active_span(span: Any) -> Iterator[None]:
    """Make ``span`` the active span for the block."""
    token = _ACTIVE_SPAN.set(span)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):  # a generator finished in another context
            _ACTIVE_SPAN.reset(token)


safe_set_span_in_context = with_active_span


# -- creating spans ----------------------------------------------------------------------


_ENV_METADATA_KEYS = (
    "mlflow.databricks.notebook.commandID",
    "mlflow.databricks.notebookID",
    "mlflow.databricks.notebookPath",
    "mlflow.databricks.webappURL",
    "mlflow.databricks.workspaceID",
    "mlflow.databricks.workspaceURL",
    "mlflow.source.name",
    "mlflow.source.type",
    "mlflow.user",
    "mlflow.source.git.commit",
    "mlflow.source.git.branch",
    "mlflow.source.git.repoURL",
)


@functools.lru_cache(maxsize=1)
def env_metadata() -> dict[str, str]:
    """MLflow's ``resolve_env_metadata``: who and what made the traces of this process
    (source name and type, user; git commit, branch and repository URL of the working
    directory when GitPython is installed, "" outside a repository, as MLflow), resolved
    once. Added to each trace's metadata by the export thread (never the traced code's),
    under what the trace already has."""
    try:
        from tracklet import plugins

        metadata = {k: str(v) for k, v in plugins.run_context_tags().items()}
    except Exception:
        _logger.debug("Failed to resolve the trace's environment metadata.", exc_info=True)
        metadata = {}
    metadata.update(_git_metadata())
    return {key: value for key, value in metadata.items() if key in _ENV_METADATA_KEYS}


def _git_metadata() -> dict[str, str]:
    try:
        import git
    except ImportError:
        return {}
    import os
    import urllib.parse

    def repo() -> Any:
        return git.Repo(os.getcwd(), search_parent_directories=True)

    def commit() -> str | None:
        try:
            r = repo()
            return None if os.getcwd() in r.ignored(os.getcwd()) else str(r.head.commit.hexsha)
        except Exception:
            return None

    def url() -> str | None:
        try:
            found = next((remote.url for remote in repo().remotes), None)
        except Exception:
            return None
        if found is None:
            return None
        parsed = urllib.parse.urlsplit(str(found))
        if not parsed.scheme or "@" not in parsed.netloc:
            return str(found)
        host_port = parsed.netloc.rpartition("@")[2]
        return str(
            urllib.parse.urlunsplit((parsed.scheme, host_port, parsed.path, parsed.query, parsed.fragment))
        )

    def branch() -> str | None:
        try:
            return str(repo().active_branch.name)
        except Exception:
            return None

    try:
        return {
            "mlflow.source.git.commit": commit() or "",
            "mlflow.source.git.repoURL": url() or "",
            "mlflow.source.git.branch": branch() or "",
        }
    except Exception:
        _logger.debug("Failed to resolve git metadata", exc_info=True)
        return {}


def _active_run() -> Any:
    try:
        from tracklet import fluent

        return fluent.active_run()
    except Exception:
        return None


def resolve_experiment_id(explicit: str | None = None) -> str:
    """MLflow's ``get_experiment_id_for_trace``: the explicit id, else
    ``tracing.set_destination``'s, else the active run's experiment, else the active experiment (``set_experiment``, ``MLFLOW_EXPERIMENT_ID`` /
    ``_NAME`` and their ``TRACKLET_`` forms), else ``"0"``."""
    if explicit:
        return str(explicit)
    if destination := tracing._destination():
        return destination
    run = _active_run()
    if run is not None:
        return str(run.info.experiment_id)
    from tracklet import fluent

    return fluent._current_experiment_id()


def _basic_metadata() -> dict[str, str]:
    metadata = {"mlflow.trace_schema.version": "3"}
    run = _active_run()
    if run is not None:
        metadata[TraceMetadataKey.SOURCE_RUN] = run.info.run_id
    return metadata


class _RuntimeLiveSpan(LiveSpan):
    """The runtime's LiveSpan: its ``end()`` also tells the runtime; its trace id is kept
    as a string (the entity decodes the ``mlflow.traceRequestId`` attribute each time)."""

    def __init__(self, *, trace_id: str, **kwargs: Any) -> None:
        super().__init__(trace_id=trace_id, **kwargs)
        self._runtime_trace_id = trace_id

    @property
    def trace_id(self) -> str:
        return self._runtime_trace_id

    def _set_raw(self, key: str, value: Any) -> None:
        # As OpenTelemetry's span attributes (MLflow's live spans are OTel spans): setting a
        # key again moves it to the end, so attributes keep MLflow's order.
        existed = key in self._raw_attributes
        super()._set_raw(key, value)
        if existed and key in self._raw_attributes:
            self._raw_attributes[key] = self._raw_attributes.pop(key)

    def end(
        self,
        outputs: Any | None = None,
        attributes: dict[str, Any] | None = None,
        status: Any = None,
        end_time_ns: int | None = None,
    ) -> None:
        was_recording = self._is_recording()
        super().end(outputs, attributes, status, end_time_ns)
        if was_recording and not self._is_recording():
            _on_span_end(self)


_RuntimeLiveSpan.__name__ = _RuntimeLiveSpan.__qualname__ = "LiveSpan"


def _new_live_span(
    *,
    trace_id: str,
    otel_trace_id: int,
    span_id: int,
    parent_id: int | None,
    name: str,
    start_time_ns: int,
    first_attributes: dict[str, Any] | None = None,
) -> LiveSpan:
    span: LiveSpan = _RuntimeLiveSpan(
        name=name,
        trace_id=trace_id,
        otel_trace_id=otel_trace_id,
        span_id=span_id,
        parent_id=parent_id,
        start_time_ns=start_time_ns,
        first_attributes=first_attributes or None,
    )
    return span


def start_detached_span(
    name: str,
    parent: Any = None,
    experiment_id: str | None = None,
    start_time_ns: int | None = None,
    span_id: int | None = None,
) -> Any:
    """Start a span under ``parent`` (a live span) or, without one, a new trace with this
    span as its root. Returns the registered :class:`LiveSpan`, or a ``NoOpSpan`` when
    tracing is disabled or the parent is not a live span of this process. ``span_id``:
    keep a given id (copying a trace), else a new random one."""
    if not tracing.is_tracing_enabled():
        return NoOpSpan()
    manager = InMemoryTraceManager.get_instance()
    if parent is not None and getattr(parent, "trace_id", None) == NO_OP_SPAN_TRACE_ID:
        return NoOpSpan()
    start = start_time_ns if start_time_ns is not None else time.time_ns()
    span_id = span_id or generate_span_id()
    first: dict[str, Any] = {}
    if start_time_ns is not None:
        first[SpanAttributeKey.START_TIME_NS] = start_time_ns
    if parent is not None and manager.get_span_from_id(parent.trace_id, parent.span_id) is not None:
        if experiment_id:
            _logger.warning(
                "The `experiment_id` parameter can only be used for root spans, but the span "
                f"`{name}` is not a root span. The specified value `{experiment_id}` will be ignored."
            )
        span = _new_live_span(
            trace_id=parent.trace_id,
            otel_trace_id=parent._otel_trace_id,
            span_id=span_id,
            parent_id=int(parent.span_id, 16),
            name=name,
            start_time_ns=start,
            first_attributes=first,
        )
        manager.register_span(span)
        return span

    if experiment_id:
        first[SpanAttributeKey.EXPERIMENT_ID] = str(experiment_id)
    otel_trace_id = generate_trace_id()
    trace_id = f"tr-{otel_trace_id:032x}"
    span = _new_live_span(
        trace_id=trace_id,
        otel_trace_id=otel_trace_id,
        span_id=span_id,
        parent_id=None,
        name=name,
        start_time_ns=start,
        first_attributes=first,
    )
    info = TraceInfo(
        trace_id=trace_id,
        trace_location=TraceLocation.from_experiment_id(resolve_experiment_id(experiment_id)),
        request_time=start // 1_000_000,
        execution_duration=None,
        state=TraceState.IN_PROGRESS,
        trace_metadata=_basic_metadata(),
        tags={TraceTagKey.TRACE_NAME: name},
    )
    manager.register_trace(info)
    manager.register_span(span)
    return span


def start_span_in_context(name: str, experiment_id: str | None = None) -> Any:
    """Start a span under the active span of this context (or a new trace)."""
    return start_detached_span(name, parent=get_current_span(), experiment_id=experiment_id)


# -- ending ------------------------------------------------------------------------------


def _truncate_metadata(value: str | None) -> str:
    if not value:
        return ""
    if len(value) > _MAX_CHARS_IN_TRACE_INFO_METADATA:
        cut = _MAX_CHARS_IN_TRACE_INFO_METADATA - len(_TRUNCATION_SUFFIX)
        value = value[:cut] + _TRUNCATION_SUFFIX
    return value


def _on_span_end(span: LiveSpan) -> None:
    """Called by a live span once it has ended. Never raises."""
    try:
        _finish(span)
    except Exception:
        _logger.debug(f"Failed to process the end of span {getattr(span, 'span_id', '?')}.", exc_info=True)


def _finish(span: LiveSpan) -> None:
    manager = InMemoryTraceManager.get_instance()
    trace_id = span.trace_id
    with manager.get_trace(trace_id) as trace:
        if trace is None:
            return
        if span._parent_id is None:
            trace.root_ended = True
            info = trace.info
            start, end = span.start_time_ns, span.end_time_ns or time.time_ns()
            info.request_time = start // 1_000_000
            info.execution_duration = (end - start) // 1_000_000
            if info.state == TraceState.IN_PROGRESS:
                code = getattr(span._status.status_code, "value", span._status.status_code)
                info.state = TraceState.ERROR if code == "ERROR" else TraceState.OK
            raw = span._raw_attributes
            info.trace_metadata[TraceMetadataKey.INPUTS] = _truncate_metadata(
                raw.get(SpanAttributeKey.INPUTS)
            )
            info.trace_metadata[TraceMetadataKey.OUTPUTS] = _truncate_metadata(
                raw.get(SpanAttributeKey.OUTPUTS)
            )
            _set_last_active_trace_id(trace_id)
    finished = manager.pop_if_complete(trace_id)
    if finished is not None:
        _export(finished)


def _export(trace: _Trace) -> None:
    """Hand the completed trace to the exporter; it is turned into an immutable ``Trace``
    (span snapshots, previews) by the export thread, not the traced code's."""
    from tracklet.tracing.export import get_exporter

    get_exporter().export(trace)


_LAST_ACTIVE_TRACE_ID_THREAD_LOCAL: ContextVar[str | None] = ContextVar(
    "tracklet_last_active_trace_id", default=None
)
_last_active_trace_id: str | None = None


def _set_last_active_trace_id(trace_id: str) -> None:
    global _last_active_trace_id
    _last_active_trace_id = trace_id
    _LAST_ACTIVE_TRACE_ID_THREAD_LOCAL.set(trace_id)


def clone_span(old: Any, parent: Any, experiment_id: str | None = None) -> Any:
    """A new live span copying a finished one (MLflow's ``LiveSpan.from_immutable_span``):
    same span id, name, start time, status, attributes (not its trace id), inputs,
    outputs and events, under ``parent`` (a live span) or as a new trace's root. Not ended."""
    new = start_detached_span(
        old.name,
        parent=parent,
        start_time_ns=old.start_time_ns,
        experiment_id=experiment_id,
        span_id=int(old.span_id, 16),
    )
    if new.trace_id == NO_OP_SPAN_TRACE_ID:
        return new
    new.set_status(old.status)
    new.set_attributes({k: v for k, v in old.attributes.items() if k != SpanAttributeKey.REQUEST_ID})
    if old.inputs:
        new.set_inputs(old.inputs)
    if old.outputs:
        new.set_outputs(old.outputs)
    for event in old.events:
        new.add_event(event)
    if old.links:
        _logger.warning(
            "Span links on span '%s' will not be retained when copying to a new trace "
            "because link trace IDs may not resolve in the destination trace context.",
            old.name,
        )
    return new


def copy_trace_to_experiment(trace_dict: dict[str, Any], experiment_id: str | None = None) -> str:
    """MLflow's ``copy_trace_to_experiment``: record a finished trace (MLflow's dict, 2.x or
    3.x) again as a new trace of ``experiment_id`` (else the current experiment): a new
    trace id, the same span ids, names, times, attributes, statuses and events; the user
    tags (not ``mlflow.*``) and the metadata copied. Exported as any ended trace. Returns
    the new trace id."""
    from tracklet.entities import Span
    from tracklet.exceptions import INVALID_STATE, TrackletException

    spans = [Span.from_dict(span_dict) for span_dict in trace_dict["data"]["spans"]]
    manager = InMemoryTraceManager.get_instance()
    new_trace_id: str | None = None
    new_root: Any = None
    for old in spans:
        parent = (
            manager.get_span_from_id(new_trace_id, old.parent_id) if new_trace_id and old.parent_id else None
        )
        new = clone_span(old, parent, experiment_id if old.parent_id is None else None)
        if new.trace_id == NO_OP_SPAN_TRACE_ID:
            continue
        if old.parent_id is None:
            new_root, new_trace_id = new, new.trace_id
        else:
            new.end(end_time_ns=old.end_time_ns)
    if new_trace_id is None or new_root is None:
        raise TrackletException(
            "Root span not found in the trace. Perhaps the trace data is corrupted.", INVALID_STATE
        )
    if info := trace_dict.get("info"):
        with manager.get_trace(new_trace_id) as trace:
            if trace is not None:
                if user_tags := {
                    k: v for k, v in (info.get("tags") or {}).items() if not k.startswith("mlflow.")
                }:
                    trace.info.tags.update(user_tags)
                if metadata := info.get("trace_metadata") or info.get("request_metadata"):
                    trace.info.trace_metadata.update(metadata)
    new_root.end(end_time_ns=spans[0].end_time_ns)
    return new_trace_id
