"""The trace contract: MLflow's traces, kept by a tracking store.

A tracking store that keeps traces also subclasses :class:`TraceStore` (a mixin: a
third-party :class:`~tracklet.stores.TrackingStore` without it keeps working, and the
client says that its store does not keep traces). The built-in file, SQL and HTTP
stores all do.

What is stored where, as MLflow 3.17 does it:

* the **trace info** (:class:`~tracklet.entities.TraceInfo`: id, experiment, request
  time, state, duration, previews, metadata, tags) lives in the tracking store and is
  what :meth:`TraceStore.search_traces` searches;
* the **spans** live either in the artifact repository, as ``traces.json`` under the
  trace's ``mlflow.artifactLocation`` tag (the file store, and any store without the
  ``span_storage`` capability), or in the tracking store itself (stores declaring
  ``span_storage``: SQL, HTTP), which then tags the trace
  ``mlflow.trace.spansLocation = TRACKING_STORE``. The client reads whichever the tag
  says (:class:`tracklet.tracing.client.TracingClient`).

Same layering as :class:`~tracklet.stores.TrackingStore`: public methods check and
normalise their arguments once, with MLflow's messages and error codes, then call the
``_``-prefixed primitives, which receive checked arguments only and refuse what depends
on stored state with the refusals below, so every store words them alike.

Rules every implementation follows:

* ``start_trace`` is an upsert keyed by ``trace_id``: spans may arrive (``log_spans``)
  before the trace info, and a client may send the info twice; the later call's state,
  duration, previews, metadata and tags are merged over the stored ones;
* ``start_trace`` sets the tag ``mlflow.artifactLocation`` to
  ``<experiment artifact location>/traces/<trace_id>/artifacts`` unless the trace
  already has one stored (never one the caller sent: the store chooses locations);
* deleting an experiment does not delete its traces; ``delete_traces`` does, with their
  spans (and the store may leave the artifact files to the artifact GC);
* a rejected call changes nothing already stored.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from tracklet.exceptions import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)

if TYPE_CHECKING:  # the entities import nothing heavy, but the contract stays light too
    from tracklet.entities import Span, TraceInfo

__all__ = [
    "SEARCH_TRACES_DEFAULT_MAX_RESULTS",
    "TRACE_CAPABILITIES",
    "TraceStore",
    "no_such_trace",
]

#: Optional features a trace store may declare in :attr:`TraceStore.trace_capabilities`:
#:
#: * ``span_storage``: :meth:`TraceStore.log_spans` and :meth:`TraceStore.get_trace_spans`
#:   keep spans in the store itself (otherwise the client writes them to the artifact
#:   repository as ``traces.json``).
TRACE_CAPABILITIES = frozenset({"span_storage"})

#: MLflow's default page size for trace search (``SEARCH_TRACES_DEFAULT_MAX_RESULTS``).
SEARCH_TRACES_DEFAULT_MAX_RESULTS = 100


def no_such_trace(trace_id: str) -> TrackletException:
    """The refusal for a trace id the store does not hold (MLflow's words)."""
    return TrackletException(f"Trace with ID {trace_id} is not found.", RESOURCE_DOES_NOT_EXIST)


def _bad(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


class TraceStore(abc.ABC):
    """Traces in a tracking store. Mixed into a :class:`~tracklet.stores.TrackingStore`."""

    #: Optional features (see :data:`TRACE_CAPABILITIES`).
    trace_capabilities: ClassVar[frozenset[str]] = frozenset()

    # == public: check, then call the primitive ==========================================

    def start_trace(self, trace_info: TraceInfo) -> TraceInfo:
        """Create (or merge into) the trace ``trace_info.trace_id``; return what is stored."""
        raise NotImplementedError  # filled in by the contract's author

    def get_trace_info(self, trace_id: str) -> TraceInfo:
        """The stored trace info; ``RESOURCE_DOES_NOT_EXIST`` if there is none."""
        raise NotImplementedError

    def batch_get_trace_infos(self, trace_ids: Sequence[str]) -> list[TraceInfo]:
        """The infos of those of ``trace_ids`` that exist, in the order asked."""
        raise NotImplementedError

    def search_traces(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = SEARCH_TRACES_DEFAULT_MAX_RESULTS,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[TraceInfo], str | None]:
        """One page of trace infos matching the filter, and the next page's token."""
        raise NotImplementedError

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        raise NotImplementedError

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        raise NotImplementedError

    def delete_traces(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> int:
        """Delete by ids, or those at or before ``max_timestamp_millis`` (oldest first,
        at most ``max_traces``); return how many were deleted."""
        raise NotImplementedError

    def log_spans(self, experiment_id: str, spans: Sequence[Span]) -> list[Span]:
        """Keep ``spans`` in the store (capability ``span_storage``), creating or updating
        their traces' infos from them; return the spans stored."""
        raise NotImplementedError

    def get_trace_spans(self, trace_id: str) -> list[Span]:
        """The spans kept for ``trace_id`` (capability ``span_storage``)."""
        raise NotImplementedError
