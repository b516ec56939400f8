"""The traces in progress in this process: MLflow's ``InMemoryTraceManager``.

Every live span is registered under its trace (``trace_id`` -> trace info + spans by
span id). When a trace is complete (its root span ended and no span of it is still
open) the runtime pops it (:meth:`InMemoryTraceManager.pop_trace`) as an immutable
:class:`~tracklet.entities.Trace` and hands it to the exporter.

Thread-safe (one re-entrant lock). Fork-safe: a child process starts with no live
traces (``os.register_at_fork``), since its parent's spans are the parent's to end.
Bounded as MLflow's buffer: a trace still in progress after
``TRACKLET_TRACE_BUFFER_TTL_SECONDS`` (else ``MLFLOW_TRACE_BUFFER_TTL_SECONDS``, default
3600) is forgotten, and so is the oldest one when more than ``TRACKLET_TRACE_BUFFER_MAX_SIZE``
(else ``MLFLOW_TRACE_BUFFER_MAX_SIZE``, default 1000) are in progress, so a trace whose
root span is never ended cannot grow the process without bound.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracklet.entities import LiveSpan, Trace, TraceInfo

__all__ = ["InMemoryTraceManager", "set_request_response_preview"]

_logger = logging.getLogger("tracklet.tracing")

#: MLflow's ``TRACE_REQUEST_RESPONSE_PREVIEW_MAX_LENGTH_OSS``.
PREVIEW_MAX_LENGTH = 1000


@dataclass
class _Trace:
    info: TraceInfo
    span_dict: dict[str, LiveSpan] = field(default_factory=dict)
    root_ended: bool = False
    registered_at: float = field(default_factory=time.monotonic)

    def to_trace(self) -> Trace:
        from tracklet.entities import Trace, TraceData
        from tracklet.tracing.provider import env_metadata

        # the process's environment metadata first, as MLflow's processor puts it
        self.info.trace_metadata = {**env_metadata(), **self.info.trace_metadata}
        data = TraceData(spans=[span.to_immutable_span() for span in self.span_dict.values()])
        set_request_response_preview(self.info, data)
        return Trace(self.info, data)

    def get_root_span(self) -> LiveSpan | None:
        for span in self.span_dict.values():
            if span.parent_id is None:
                return span
        return None

    def has_open_spans(self) -> bool:
        return any(span.end_time_ns is None for span in self.span_dict.values())


class InMemoryTraceManager:
    """Live traces by MLflow trace id (``tr-<32 hex>``); one instance per process."""

    _instance_lock = threading.RLock()
    _instance: InMemoryTraceManager | None = None

    @classmethod
    def get_instance(cls) -> InMemoryTraceManager:
        instance = cls._instance
        if instance is None:
            with cls._instance_lock:
                if cls._instance is None:
                    cls._instance = InMemoryTraceManager()
                instance = cls._instance
        return instance

    def __init__(self) -> None:
        from tracklet.utils import environment

        self._traces: dict[str, _Trace] = {}
        self._lock = threading.RLock()
        self.ttl_seconds = environment.get_parsed(
            environment.variables("TRACE_BUFFER_TTL_SECONDS"),
            3600.0,
            _positive,
            "it must be a number of seconds above 0",
        )
        self.max_size = environment.get_parsed(
            environment.variables("TRACE_BUFFER_MAX_SIZE"),
            1000,
            _positive_int,
            "it must be a whole number of at least 1",
        )

    def register_trace(self, trace_info: TraceInfo) -> None:
        """Start tracking a new trace (called when its root span starts)."""
        with self._lock:
            self._evict()
            self._traces[trace_info.trace_id] = _Trace(trace_info)

    def _evict(self) -> None:
        """Forget the traces in progress past their time, and the oldest beyond the size."""
        horizon = time.monotonic() - self.ttl_seconds
        while self._traces:
            trace_id, oldest = next(iter(self._traces.items()))
            if len(self._traces) < self.max_size and oldest.registered_at > horizon:
                break
            del self._traces[trace_id]
            _logger.debug(f"Trace {trace_id} was still in progress and is forgotten (trace buffer TTL/size).")

    def register_span(self, span: LiveSpan) -> None:
        """Add a live span to its (registered) trace."""
        with self._lock:
            trace = self._traces.get(span.trace_id)
            if trace is not None:
                trace.span_dict[span.span_id] = span

    @contextlib.contextmanager
    def get_trace(self, trace_id: str) -> Iterator[_Trace | None]:
        """The live trace (or None), held under the manager's lock for the block."""
        with self._lock:
            yield self._traces.get(trace_id)

    def has_trace(self, trace_id: str) -> bool:
        with self._lock:
            return trace_id in self._traces

    def get_span_from_id(self, trace_id: str, span_id: str) -> LiveSpan | None:
        with self._lock:
            trace = self._traces.get(trace_id)
            return trace.span_dict.get(span_id) if trace else None

    def get_root_span_id(self, trace_id: str) -> str | None:
        with self._lock:
            trace = self._traces.get(trace_id)
            root = trace.get_root_span() if trace else None
            return root.span_id if root is not None else None

    def set_trace_metadata(self, trace_id: str, key: str, value: str) -> None:
        with self._lock:
            trace = self._traces.get(trace_id)
            if trace is not None:
                trace.info.trace_metadata[key] = value

    def pop_trace(self, trace_id: str) -> Trace | None:
        """Remove the trace and return it as an immutable ``Trace`` (None if unknown)."""
        with self._lock:
            internal = self._traces.pop(trace_id, None)
        return internal.to_trace() if internal is not None else None

    def pop_if_complete(self, trace_id: str) -> _Trace | None:
        """Pop the trace if its root span has ended and no span of it is open; the caller
        turns it into a ``Trace`` with ``to_trace()`` (the export thread does)."""
        with self._lock:
            internal = self._traces.get(trace_id)
            if internal is None or not internal.root_ended or internal.has_open_spans():
                return None
            del self._traces[trace_id]
        return internal

    def live_trace_ids(self) -> list[str]:
        with self._lock:
            return list(self._traces)

    def _clear(self) -> None:
        with self._lock:
            self._traces.clear()

    @classmethod
    def reset(cls) -> None:
        """Forget every live trace (tests; ``tracklet.tracing.reset()``)."""
        with cls._instance_lock:
            if cls._instance is not None:
                cls._instance._clear()
            cls._instance = None

    @classmethod
    def _after_fork_in_child(cls) -> None:
        # the parent's locks may be held by a thread that does not exist in the child
        cls._instance_lock = threading.RLock()
        cls._instance = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=InMemoryTraceManager._after_fork_in_child)


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


# -- previews (MLflow's tracing/utils/truncation.py) -------------------------------------


def set_request_response_preview(trace_info: TraceInfo, trace_data: Any) -> None:
    """Fill the trace's request/response previews from the root span (unless set)."""
    if trace_info.request_preview is None and trace_data.request is not None:
        trace_info.request_preview = _truncated_preview(trace_data.request, role="user")
    if trace_info.response_preview is None and trace_data.response is not None:
        trace_info.response_preview = _truncated_preview(trace_data.response, role="assistant")


def _truncated_preview(request_or_response: Any, role: str) -> str | None:
    if request_or_response is None:
        return None
    content: str | None = None
    obj: Any = None
    if isinstance(request_or_response, dict):
        obj = request_or_response
        request_or_response = json.dumps(request_or_response)
    elif isinstance(request_or_response, str):
        try:
            obj = json.loads(request_or_response)
        except json.JSONDecodeError:
            pass
    if obj is not None and (messages := _try_extract_messages(obj)):
        content = _text_content(_last_message(messages, role))
    text: str = content or str(request_or_response)
    if len(text) <= PREVIEW_MAX_LENGTH:
        return text
    return text[: PREVIEW_MAX_LENGTH - 3] + "..."


def _is_message(item: Any) -> bool:
    return isinstance(item, dict) and "role" in item and "content" in item


def _try_extract_messages(obj: Any) -> list[dict[str, Any]] | None:
    if not isinstance(obj, dict):
        return None
    if (messages := obj.get("messages")) and isinstance(messages, list):
        return [item for item in messages if _is_message(item)]
    if (
        (choices := obj.get("choices"))
        and isinstance(choices, list)
        and isinstance(choices[0], dict)
        and (msg := choices[0].get("message"))
        and _is_message(msg)
    ):
        return [msg]
    if (inputs := obj.get("input")) and isinstance(inputs, list):
        return [item for item in inputs if _is_message(item)]
    if (output := obj.get("output")) and isinstance(output, list):
        return [item for item in output if _is_message(item)]
    if "request" in obj:
        return _try_extract_messages(obj["request"])
    return None


def _last_message(messages: list[dict[str, Any]], role: str) -> dict[str, Any]:
    found: dict[str, Any] = messages[-1]
    for message in reversed(messages):
        if message.get("role") == role:
            found = message
            break
    return found


def _text_content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                return part
            if isinstance(part, dict) and part.get("type") in ["text", "output_text"]:
                return str(part.get("text"))
    elif isinstance(content, str):
        return content
    return ""
