"""The traces phase: every trace of the copied experiments, with the same id, state,
times, previews, tags, metadata and spans, and its comparison for ``--verify``.

Traces are read a page at a time through the source's :class:`~tracklet.stores.traces.
TraceStore` calls, their spans loaded by :class:`~tracklet.tracing.client.TracingClient`
(from the store or from ``traces.json``, whichever the trace's tag says), and written as
the client writes an ended trace: ``log_spans`` then ``start_trace`` when the destination
keeps spans (capability ``span_storage``), else ``start_trace`` then ``traces.json`` under
the location the destination chose. Both writes are upserts keyed by the trace id (and
span id), so a trace written again is written over, never twice; each trace is journaled
once all of it is written, and a resumed copy skips journaled traces.

What a store necessarily rewrites, so the copy and ``--verify`` expect it rewritten:

* tag ``mlflow.artifactLocation``: the destination sets it (to ``<the copied experiment's
  artifact location>/traces/<trace id>/artifacts``), as run artifact URIs are rewritten
  (kept when the experiment's location is kept, ``--keep-artifact-uris``);
* tag ``mlflow.trace.spansLocation``: says where the destination keeps the spans;
* assessments: tracklet's stores keep none yet.

With ``--filter``, a trace is copied only when its ``mlflow.sourceRun`` metadata names a
copied run (traces of no run are left out).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from tracklet.exceptions import TrackletException
from tracklet.migrate._progress import phase

if TYPE_CHECKING:
    from tracklet.entities import Span, TraceInfo
    from tracklet.tracing.client import TracingClient

__all__ = ["TraceCounts", "TraceScope", "copy_traces", "trace_differences"]

#: Trace infos asked for per page (a server may answer fewer).
PAGE = 500

_ARTIFACT_LOCATION = "mlflow.artifactLocation"
_SPANS_LOCATION = "mlflow.trace.spansLocation"
_TRACKING_STORE = "TRACKING_STORE"
_SOURCE_RUN = "mlflow.sourceRun"
#: Tags whose value is the destination's to choose (see the module's docstring).
REWRITTEN_TAGS = frozenset({_ARTIFACT_LOCATION, _SPANS_LOCATION})


@dataclasses.dataclass
class TraceScope:
    """Which traces a copy covers: those of ``experiments`` (source id -> (destination id,
    the copied experiment's artifact location)); with ``run_ids``, only those whose
    ``mlflow.sourceRun`` is one of them."""

    experiments: dict[str, tuple[str, str]]
    run_ids: set[str] | None = None

    def wants(self, info: TraceInfo) -> bool:
        return self.run_ids is None or info.trace_metadata.get(_SOURCE_RUN) in self.run_ids


@dataclasses.dataclass
class TraceCounts:
    """What the phase wrote (or would write)."""

    traces: int = 0
    spans: int = 0
    #: Traces the journal lists as copied by an earlier, interrupted call.
    skipped: int = 0
    #: Traces copied without spans: the source has none readable (e.g. still in progress).
    without_spans: int = 0


def _trace_store(uri: str) -> Any:
    """The store's trace half, or None when it keeps no traces."""
    from tracklet.plugins import get_tracking_store
    from tracklet.stores.traces import TraceStore

    store = get_tracking_store(uri)
    return store if isinstance(store, TraceStore) else None


def unsupported(src_uri: str, dst_uri: str) -> str | None:
    """Why the phase cannot run (a side keeps no traces), or None."""
    for side, uri in (("source", src_uri), ("destination", dst_uri)):
        if _trace_store(uri) is None:
            return f"the {side} keeps no traces (its store is no TraceStore); traces skipped"
    return None


def _infos(store: Any, experiment_id: str) -> Iterator[list[TraceInfo]]:
    token: str | None = None
    while True:
        infos, token = store.search_traces([experiment_id], None, PAGE, None, token)
        yield list(infos)
        if not token:
            return


def _client(uri: str) -> TracingClient:
    from tracklet.tracing.client import TracingClient

    return TracingClient(uri)


def _with_spans(
    client: TracingClient, infos: list[TraceInfo]
) -> Iterator[tuple[TraceInfo, list[Span] | None]]:
    """Each info with its spans (None when the source has none readable)."""
    loaded = {trace.info.trace_id: trace for trace in client._load_traces(infos)}
    for info in infos:
        trace = loaded.get(info.trace_id)
        yield info, (list(trace.data.spans) if trace is not None else None)


def trace_copy(info: TraceInfo, experiment_id: str) -> TraceInfo:
    """The info as the destination gets it: in experiment ``experiment_id``, without the
    tags the destination chooses."""
    from tracklet.entities import TraceLocation

    tags = {k: v for k, v in info.tags.items() if k not in REWRITTEN_TAGS}
    return dataclasses.replace(
        info,
        trace_location=TraceLocation.from_experiment_id(experiment_id),
        tags=tags,
        trace_metadata=dict(info.trace_metadata),
        assessments=[],
    )


def _write(
    client: TracingClient, info: TraceInfo, spans: list[Span] | None, source_location: str | None, keep: bool
) -> None:
    """Write one trace as the client writes an ended one (without adding size statistics:
    the copy holds the source's metadata as it is)."""
    from tracklet.entities import TraceData
    from tracklet.tracing.client import _span_logging_refused

    store = client.store
    if spans and client.span_storage and client._log_spans_supported:
        try:
            store.log_spans(str(info.experiment_id), spans)
        except (TrackletException, NotImplementedError) as exc:
            if not _span_logging_refused(exc):
                raise
            # a server whose own store keeps no spans: traces.json, as the client does
            client._log_spans_supported = False
        else:
            info = dataclasses.replace(info, tags={**info.tags, _SPANS_LOCATION: _TRACKING_STORE})
    stored = store.start_trace(info)
    if not spans or stored.tags.get(_SPANS_LOCATION) == _TRACKING_STORE:
        return
    if keep and stored.tags.get(_ARTIFACT_LOCATION) == source_location:
        return  # --keep-artifact-uris: both sides read the same traces.json
    client._upload_trace_data(stored, TraceData(spans=spans))


def copy_traces(
    src_uri: str,
    dst_uri: str,
    scope: TraceScope,
    done: set[str],
    record: Callable[[str], None],
    *,
    keep_artifact_uris: bool,
    dry_run: bool,
    progress: bool,
    workers: int = 1,
) -> TraceCounts:
    """Copy the traces of ``scope`` not in ``done``, ``workers`` at a time (in order),
    calling ``record(trace_id)`` here once all of a trace is written."""
    src = _client(src_uri)
    dst = None if dry_run else _client(dst_uri)
    counts = TraceCounts()

    def write(item: tuple[TraceInfo, list[Span] | None, str]) -> None:
        info, spans, target_id = item
        if dst is not None:
            location = info.tags.get(_ARTIFACT_LOCATION)
            _write(dst, trace_copy(info, target_id), spans, location, keep_artifact_uris)

    with (
        phase("traces", None, progress) as bar,
        ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="tracklet-traces") as pool,
    ):
        for source_id, (target_id, _location) in scope.experiments.items():
            for page in _infos(src.store, source_id):
                wanted = [info for info in page if scope.wants(info)]
                bar.total = (bar.total or 0) + len(wanted)
                bar.refresh()
                todo = []
                for info in wanted:
                    if info.trace_id in done:
                        counts.skipped += 1
                        bar.update(1)
                    else:
                        todo.append(info)
                items = [(info, spans, target_id) for info, spans in _with_spans(src, todo)]
                written = pool.map(write, items) if workers > 1 else map(write, items)
                for (info, spans, _), _none in zip(items, written, strict=True):
                    # results come in order: a trace is journaled once it and those before are written
                    if dst is not None:
                        record(info.trace_id)
                    counts.traces += 1
                    counts.spans += len(spans or [])
                    counts.without_spans += spans is None
                    bar.update(1)
    return counts


def trace_differences(
    src_uri: str, dst_uri: str, scope: TraceScope, whole: bool
) -> Iterator[tuple[str, str, Any, Any]]:
    """(trace id, field, source value, destination value) for each difference; field
    ``missing`` / ``extra`` for a trace only one side has (``extra`` only when ``whole``:
    every trace of the experiments is covered)."""
    from tracklet.stores.traces import artifact_location_for

    src, dst = _client(src_uri), _client(dst_uri)
    for source_id, (target_id, location) in scope.experiments.items():
        seen: set[str] = set()
        for page in _infos(src.store, source_id):
            wanted = [info for info in page if scope.wants(info)]
            copies = {i.trace_id: i for i in dst.store.batch_get_trace_infos([i.trace_id for i in wanted])}
            present = [copies[i.trace_id] for i in wanted if i.trace_id in copies]
            ours = {info.trace_id: spans for info, spans in _with_spans(dst, present)}
            for info, spans in _with_spans(src, wanted):
                trace_id = info.trace_id
                seen.add(trace_id)
                if trace_id not in copies:
                    yield trace_id, "missing", None, None
                    continue
                expected = _info_fields(trace_copy(info, target_id))
                expected["tags"][_ARTIFACT_LOCATION] = artifact_location_for(location, trace_id)
                got = _info_fields(copies[trace_id])
                for name in sorted(set(expected) | set(got)):
                    if expected.get(name) != got.get(name):
                        yield trace_id, name, expected.get(name), got.get(name)
                if _span_dicts(spans) != _span_dicts(ours.get(trace_id)):
                    yield trace_id, "spans", _describe(spans), _describe(ours.get(trace_id))
        if whole:
            for page in _infos(dst.store, target_id):
                for info in page:
                    if info.trace_id not in seen:
                        yield info.trace_id, "extra", None, None


def _info_fields(info: TraceInfo) -> dict[str, Any]:
    tags = {k: v for k, v in info.tags.items() if k != _SPANS_LOCATION}
    return {
        "experiment_id": str(info.experiment_id),
        "request_time": info.request_time,
        "state": getattr(info.state, "value", info.state),
        "execution_duration": info.execution_duration,
        "request_preview": info.request_preview,
        "response_preview": info.response_preview,
        "client_request_id": info.client_request_id,
        "trace_metadata": dict(info.trace_metadata),
        "tags": tags,
    }


def _span_dicts(spans: list[Span] | None) -> list[str]:
    """Spans as their MLflow dictionaries (as JSON text: comparable and hashable), in
    span id order (stores may list them in another order)."""
    if not spans:
        return []
    return sorted(json.dumps(span.to_dict(), sort_keys=True, default=str) for span in spans)


def _describe(spans: list[Span] | None) -> str:
    return f"{len(spans or [])} spans"
