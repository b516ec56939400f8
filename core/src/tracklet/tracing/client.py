"""``TracingClient``: traces in the tracking store and their spans wherever they live.

The read/write side of tracing below the fluent API and ``MlflowClient``'s trace methods,
as MLflow 3.17's ``mlflow.tracing.client.TracingClient``:

* the **trace info** goes to the tracking store (a :class:`~tracklet.stores.traces.TraceStore`);
* the **spans** go to the tracking store too when it declares the ``span_storage``
  capability (SQL, HTTP: the trace is then tagged ``mlflow.trace.spansLocation =
  TRACKING_STORE``), else to the artifact repository as ``traces.json`` under the trace's
  ``mlflow.artifactLocation`` tag, byte for byte the file MLflow writes (the file store).

Reading follows the tag, so a trace written by MLflow is read by tracklet and the other way
round. Nothing here is imported by ``import tracklet``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from tracklet import _config, plugins
from tracklet.exceptions import (
    BAD_REQUEST,
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    NOT_FOUND,
    NOT_IMPLEMENTED,
    TrackletException,
)

if TYPE_CHECKING:
    from tracklet.entities import PagedList, Span, Trace, TraceData, TraceInfo
    from tracklet.stores import ArtifactRepository
    from tracklet.stores.traces import TraceStore

__all__ = [
    "SEARCH_TRACES_DEFAULT_MAX_RESULTS",
    "TRACE_DATA_FILE_NAME",
    "TraceDataCorrupted",
    "TraceDataException",
    "TraceDataNotFound",
    "TracingClient",
]

_logger = logging.getLogger(__name__)

#: The file holding a trace's spans in its artifact location (MLflow's name).
TRACE_DATA_FILE_NAME = "traces.json"
#: MLflow's default page size of trace search.
SEARCH_TRACES_DEFAULT_MAX_RESULTS = 100

# MLflow's tag and metadata keys (tracklet.tracing.constant holds the same strings).
_ARTIFACT_LOCATION = "mlflow.artifactLocation"
_SPANS_LOCATION = "mlflow.trace.spansLocation"
_TRACKING_STORE = "TRACKING_STORE"
_ARTIFACT_REPO = "ARTIFACT_REPO"
_SOURCE_RUN = "mlflow.sourceRun"
_SIZE_STATS = "mlflow.trace.sizeStats"
_SIZE_BYTES = "mlflow.trace.sizeBytes"
#: Tags a user cannot set or delete on a trace (MLflow's ``IMMUTABLE_TAGS``).
_IMMUTABLE_TAGS = frozenset(
    {
        "mlflow.user",
        _ARTIFACT_LOCATION,
        _SPANS_LOCATION,
        "mlflow.trace.archiveLocation",
        "mlflow.trace.archivalFailure",
    }
)

#: Threads downloading the spans of one search page (I/O bound: object stores, servers).
_MAX_DOWNLOAD_THREADS = 8

_T = TypeVar("_T")
_R = TypeVar("_R")


class TraceDataException(TrackletException):
    """A trace's span data cannot be read (MLflow's ``MlflowTraceDataException``)."""

    def __init__(self, error_code: str, request_id: str | None = None, artifact_path: str | None = None):
        self.ctx = f"request_id={request_id}" if request_id else f"path={artifact_path}"
        if error_code == NOT_FOUND:
            super().__init__(f"Trace data not found for {self.ctx}", error_code)
        else:
            super().__init__(f"Trace data is corrupted for {self.ctx}", error_code)


class TraceDataNotFound(TraceDataException):
    """No ``traces.json`` where the trace's artifact location says (or it is empty)."""

    def __init__(self, request_id: str | None = None, artifact_path: str | None = None):
        super().__init__(NOT_FOUND, request_id, artifact_path)


class TraceDataCorrupted(TraceDataException):
    """The span data is not what MLflow writes, or the trace has no artifact location."""

    def __init__(self, request_id: str | None = None, artifact_path: str | None = None):
        super().__init__(INVALID_STATE, request_id, artifact_path)


def _store_for(tracking_uri: str) -> TraceStore:
    """The (cached) tracking store of ``tracking_uri``, refused unless it keeps traces."""
    from tracklet.stores.traces import TraceStore

    store = plugins.get_tracking_store(tracking_uri)
    if not isinstance(store, TraceStore):
        from tracklet.uri import masked_uri

        raise TrackletException(
            f"The tracking store {type(store).__module__}.{type(store).__qualname__} for "
            f"{masked_uri(tracking_uri)!r} does not keep traces. Traces need a store that does: "
            "the file store (a path or file:), the SQL stores (sqlite:, postgresql:, mysql:) or a "
            "tracking server (http:, https:); a plugin's store keeps them once it subclasses "
            "tracklet.stores.traces.TraceStore.",
            NOT_IMPLEMENTED,
        )
    return store


class TracingClient:
    """Client of the traces kept by a tracking store (MLflow's ``TracingClient``).

    :param tracking_uri: where traces are tracked; default: :func:`tracklet.get_tracking_uri`.
    :raises TrackletException: ``NOT_IMPLEMENTED`` if the URI's store does not keep traces.
    """

    def __init__(self, tracking_uri: str | None = None) -> None:
        self.tracking_uri = str(tracking_uri) if tracking_uri else _config.get_tracking_uri()
        #: False once the store refused ``log_spans`` (then spans go to the artifact store)
        self._log_spans_supported = True
        # As MLflow: resolve the store now, so a bad URI fails here and not in the exporter.
        self.store  # noqa: B018

    @property
    def store(self) -> TraceStore:
        """The tracking store (from the core's cache, so a reset plugin set is honoured)."""
        return _store_for(self.tracking_uri)

    @property
    def span_storage(self) -> bool:
        """Whether the store keeps spans itself (else they go to the artifact repository)."""
        return "span_storage" in self.store.trace_capabilities

    # -- writing ------------------------------------------------------------------------

    def start_trace(self, trace_info: TraceInfo) -> TraceInfo:
        """Create (or merge into) the trace in the store; return what is stored."""
        return self.store.start_trace(trace_info)

    def log_spans(self, experiment_id: str, spans: Sequence[Span]) -> list[Span]:
        """Keep ``spans`` in the store (stores with the ``span_storage`` capability)."""
        return self.store.log_spans(str(experiment_id), spans)

    def log_trace(self, trace: Trace) -> TraceInfo:
        """Store an ended trace: its info, and its spans where the store wants them.

        With ``span_storage``, the spans go to the store and the info is tagged
        ``mlflow.trace.spansLocation = TRACKING_STORE``; otherwise the info goes to the store
        first (which chooses ``mlflow.artifactLocation``) and the spans are uploaded there as
        ``traces.json``. Returns the trace info as stored.
        """
        _add_size_stats(trace)
        store = self.store
        info = trace.info
        if self._log_spans_supported and "span_storage" in store.trace_capabilities:
            try:
                store.log_spans(str(info.experiment_id), list(trace.data.spans))
            except (TrackletException, NotImplementedError) as exc:
                if not _span_logging_refused(exc):
                    raise
                # As MLflow's exporter: a server whose own store keeps no spans (MLflow's
                # file store behind `mlflow server`) answers 501; its artifacts then get them.
                self._log_spans_supported = False
            else:
                info = _with_tag(info, _SPANS_LOCATION, _TRACKING_STORE)
        stored = store.start_trace(info)
        if stored.tags.get(_SPANS_LOCATION) != _TRACKING_STORE:
            self._upload_trace_data(stored, trace.data)
        return stored

    def _artifact_repo_for_trace(self, trace_info: TraceInfo) -> ArtifactRepository:
        uri = trace_info.tags.get(_ARTIFACT_LOCATION)
        if not uri:
            raise TraceDataCorrupted(request_id=trace_info.trace_id)
        return plugins.get_artifact_repository(uri, self.tracking_uri)

    def _upload_trace_data(self, trace_info: TraceInfo, trace_data: TraceData) -> None:
        """Write ``traces.json`` (MLflow's exact bytes) to the trace's artifact location."""
        repo = self._artifact_repo_for_trace(trace_info)
        text = json.dumps(trace_data.to_dict(), cls=_TraceJSONEncoder, ensure_ascii=False)
        with tempfile.TemporaryDirectory(prefix="tracklet-trace-") as tmp:
            path = os.path.join(tmp, TRACE_DATA_FILE_NAME)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            repo.log_artifact(path)

    # -- reading ------------------------------------------------------------------------

    def _download_trace_data(self, trace_info: TraceInfo, tmp_dir: str | None = None) -> TraceData:
        """Read ``traces.json`` from the trace's artifact location (through a file in
        ``tmp_dir``, a directory shared by a page's downloads; a new one when None).

        :raises TraceDataNotFound: no such file, or an empty one.
        :raises TraceDataCorrupted: no artifact location, or not MLflow's JSON.
        """
        repo = self._artifact_repo_for_trace(trace_info)
        if tmp_dir is None:
            with tempfile.TemporaryDirectory(prefix="tracklet-trace-") as tmp:
                return _read_trace_data(repo, os.path.join(tmp, TRACE_DATA_FILE_NAME))
        fd, path = tempfile.mkstemp(suffix="-" + TRACE_DATA_FILE_NAME, dir=tmp_dir)
        os.close(fd)
        try:
            return _read_trace_data(repo, path)
        finally:
            with contextlib.suppress(OSError):
                os.remove(path)

    def get_trace_info(self, trace_id: str) -> TraceInfo:
        """The info of the trace: the one in progress in this process if there is one (as
        MLflow), else the stored one (``RESOURCE_DOES_NOT_EXIST`` if there is none)."""
        from tracklet.tracing.trace_manager import InMemoryTraceManager

        with InMemoryTraceManager.get_instance().get_trace(trace_id) as live:
            if live is not None:
                info: TraceInfo = live.info
                return info
        return self.store.get_trace_info(trace_id)

    def get_trace(self, trace_id: str) -> Trace:
        """The trace with its spans, from the store or the artifact repository as its
        ``mlflow.trace.spansLocation`` tag says.

        :raises TrackletException: ``RESOURCE_DOES_NOT_EXIST`` for an unknown id;
            ``BAD_REQUEST`` (MLflow's words) when its span data is missing or corrupted.
        """
        info = self.get_trace_info(trace_id)
        try:
            return self._load_trace(info)
        except TraceDataNotFound:
            raise TrackletException(
                f"Trace with ID {trace_id} cannot be loaded because it is missing span data. "
                "Please try creating or loading another trace.",
                BAD_REQUEST,
            ) from None
        except TraceDataCorrupted:
            raise TrackletException(
                f"Trace with ID {trace_id} cannot be loaded because its span data is corrupted. "
                "Please try creating or loading another trace.",
                BAD_REQUEST,
            ) from None

    def _load_trace(self, info: TraceInfo, tmp_dir: str | None = None) -> Trace:
        from tracklet.entities import Trace, TraceData

        if info.tags.get(_SPANS_LOCATION) == _TRACKING_STORE:
            return Trace(info, TraceData(spans=list(self.store.get_trace_spans(info.trace_id))))
        return Trace(info, self._download_trace_data(info, tmp_dir))

    def _load_trace_or_none(self, info: TraceInfo, tmp_dir: str | None = None) -> Trace | None:
        """The trace, or None (with MLflow's warning) when its span data cannot be read."""
        try:
            return self._load_trace(info, tmp_dir)
        except TraceDataException as exc:
            _logger.warning(
                f"Failed to download trace data for trace {info.trace_id!r} with {exc.ctx}. "
                "For full traceback, set logging level to DEBUG.",
                exc_info=_logger.isEnabledFor(logging.DEBUG),
            )
            return None

    def _load_traces(self, infos: Sequence[TraceInfo]) -> list[Trace]:
        """The traces of ``infos`` with their spans, in order; unreadable ones left out.
        Several are fetched at once (downloads and server calls wait on the network)."""
        from tracklet.entities import Trace, TraceData

        if not infos:
            return []
        # Spans kept by the store: the whole page in one call when the store can (tracklet-sql).
        in_store = [i.trace_id for i in infos if i.tags.get(_SPANS_LOCATION) == _TRACKING_STORE]
        spans_of = self.store.batch_get_trace_spans(in_store) if in_store and self.span_storage else {}
        rest = [info for info in infos if info.trace_id not in spans_of]
        loaded: dict[str, Trace | None] = {}
        if rest:
            # One temporary directory for the page: creating and removing one per trace costs
            # more than reading the trace.
            with tempfile.TemporaryDirectory(prefix="tracklet-traces-") as tmp:
                found = _map_concurrently(lambda info: self._load_trace_or_none(info, tmp), rest)
            loaded = {info.trace_id: trace for info, trace in zip(rest, found, strict=True)}
        traces = []
        for info in infos:
            spans = spans_of.get(info.trace_id)
            trace = (
                Trace(info, TraceData(spans=list(spans))) if spans is not None else loaded.get(info.trace_id)
            )
            if trace is not None:
                traces.append(trace)
        return traces

    def batch_get_traces(self, trace_ids: Sequence[str]) -> list[Trace]:
        """The traces of those ``trace_ids`` that exist (and whose spans can be read)."""
        if not trace_ids:
            return []
        return self._load_traces(self.store.batch_get_trace_infos(list(trace_ids)))

    def search_traces(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str | None = None,
        max_results: int = SEARCH_TRACES_DEFAULT_MAX_RESULTS,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
        run_id: str | None = None,
        include_spans: bool = True,
        model_id: str | None = None,
        locations: Sequence[str] | None = None,
    ) -> PagedList[Trace]:
        """One page of traces matching ``filter_string`` in the experiments (MLflow 3.17's).

        ``run_id`` narrows to the traces made under that run (metadata ``mlflow.sourceRun``),
        ``model_id`` to those of a logged model (metadata ``mlflow.modelId``);
        ``include_spans=False`` returns the traces without reading their spans. The token of
        the next page is the result's ``token``.
        """
        from tracklet.entities import PagedList, Trace, TraceData

        if model_id is not None:
            if filter_string:
                raise TrackletException(
                    "Cannot specify both `model_id` or `filter_string` in the search_traces call.",
                    INVALID_PARAMETER_VALUE,
                )
            filter_string = f"request_metadata.`mlflow.modelId` = '{model_id}'"
        experiments = _resolve_locations(experiment_ids, locations)
        if run_id:
            run_experiment = plugins.get_tracking_store(self.tracking_uri).get_run(run_id).info.experiment_id
            if not experiments:
                experiments = [run_experiment]
            elif run_experiment not in experiments:
                raise TrackletException(
                    f"Run {run_id} belongs to experiment {run_experiment}, which is not in the "
                    f"list of locations provided: {list(experiments)}. Please include experiment "
                    f"{run_experiment} in the `locations` parameter to search for traces from this "
                    "run.",
                    INVALID_PARAMETER_VALUE,
                )
            run_filter = f"attribute.run_id = '{run_id}'"
            if filter_string:
                if _SOURCE_RUN in filter_string:
                    raise TrackletException(
                        "You cannot filter by run_id when it is already part of the filter string."
                        f"Please remove the {_SOURCE_RUN} filter from the filter string and try "
                        "again.",
                        INVALID_PARAMETER_VALUE,
                    )
                filter_string = f"{filter_string} AND {run_filter}"
            else:
                filter_string = run_filter

        store = self.store
        order = list(order_by) if order_by else None
        traces: list[Trace] = []
        token = page_token
        wanted = max_results
        # As MLflow: a trace whose spans cannot be read is left out, and the page refilled.
        while len(traces) < max_results:
            infos, token = store.search_traces(experiments, filter_string, wanted, order, token)
            if include_spans:
                traces.extend(self._load_traces(infos))
            else:
                traces.extend(Trace(info, TraceData(spans=[])) for info in infos)
            if not token:
                break
            wanted = max_results - len(traces)
        return PagedList(traces, token)

    # -- changing -----------------------------------------------------------------------

    def delete_traces(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> int:
        """Delete traces by id, or those up to ``max_timestamp_millis`` (oldest first, at most
        ``max_traces``); return how many were deleted."""
        return self.store.delete_traces(
            str(experiment_id),
            max_timestamp_millis=max_timestamp_millis,
            max_traces=max_traces,
            trace_ids=list(trace_ids) if trace_ids is not None else None,
        )

    def set_trace_tag(self, trace_id: str, key: str, value: Any) -> None:
        """Set a tag on a stored trace (values are stringified; MLflow's immutable tags
        are left alone, with MLflow's warning)."""
        if not isinstance(value, str):
            _logger.warning(
                "Received non-string value for trace tag. Please note that non-string tag values"
                "will automatically be stringified when the trace is logged."
            )
        if key in _IMMUTABLE_TAGS:
            _logger.warning(f"Tag '{key}' is immutable and cannot be set on a trace.")
            return
        self.store.set_trace_tag(trace_id, key, str(value))

    def set_trace_tags(self, trace_id: str, tags: dict[str, Any]) -> None:
        """Set several tags on a stored trace (immutable ones skipped)."""
        for key, value in tags.items():
            if key not in _IMMUTABLE_TAGS:
                self.set_trace_tag(trace_id, key, value)

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        """Remove a tag from a stored trace (``RESOURCE_DOES_NOT_EXIST`` if it has none)."""
        if key in _IMMUTABLE_TAGS and key != "mlflow.trace.archivalFailure":
            _logger.warning(f"Tag '{key}' is immutable and cannot be deleted on a trace.")
            return
        self.store.delete_trace_tag(trace_id, key)


# -- helpers ----------------------------------------------------------------------------


def _resolve_locations(experiment_ids: Sequence[str] | None, locations: Sequence[str] | None) -> list[str]:
    """The experiments to search, from ``experiment_ids`` or ``locations`` (MLflow's rules:
    not both; no Unity Catalog tables)."""
    for name, value in (("experiment_ids", experiment_ids), ("locations", locations)):
        if isinstance(value, str):  # MLflow's _validate_list_param words
            raise TrackletException(
                f"{name} must be a list, got str. Did you mean to use {name}=[{value!r}]?",
                INVALID_PARAMETER_VALUE,
            )
    if experiment_ids:
        if locations:
            raise TrackletException(
                "`experiment_ids` is deprecated, use `locations` instead.", INVALID_PARAMETER_VALUE
            )
        locations = experiment_ids
    chosen = [str(location) for location in locations or []]
    invalid = [location for location in chosen if "." in location]
    if invalid:
        shown = ", ".join(invalid)
        if len(shown) > 20:
            shown = shown[:20] + "..."
        raise TrackletException(
            f"Locations must be a list of experiment IDs. Found invalid experiment IDs: {shown}.",
            INVALID_PARAMETER_VALUE,
        )
    return chosen


def _read_trace_data(repo: ArtifactRepository, path: str) -> TraceData:
    """Download the repository's ``traces.json`` to ``path`` and parse it (MLflow's
    ``download_trace_data``: any download failure or an empty file is "not found", text
    that is not MLflow's JSON "corrupted")."""
    from tracklet.entities import TraceData

    try:
        repo._download_file(TRACE_DATA_FILE_NAME, path)
    except Exception as exc:
        raise TraceDataNotFound(artifact_path=TRACE_DATA_FILE_NAME) from exc
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise TraceDataNotFound(artifact_path=path) from None
    if not text:
        raise TraceDataNotFound(artifact_path=path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceDataCorrupted(artifact_path=path) from exc
    if not isinstance(data, dict):
        raise TraceDataCorrupted(artifact_path=path)
    try:
        return TraceData.from_dict_lazy(data)
    except TrackletException:
        raise
    except Exception as exc:  # a span dict MLflow would not have written
        raise TraceDataCorrupted(artifact_path=path) from exc


def _span_logging_refused(exc: BaseException) -> bool:
    """Whether ``log_spans`` failed because the store (or the server's) keeps no spans."""
    if isinstance(exc, NotImplementedError):
        return True
    message = getattr(exc, "message", str(exc))
    return getattr(exc, "error_code", None) == NOT_IMPLEMENTED or "span logging is not supported" in message


def _with_tag(info: TraceInfo, key: str, value: str) -> TraceInfo:
    """A copy of ``info`` with one more tag (the caller's info is not changed)."""
    tagged = copy.copy(info)
    tagged.tags = {**info.tags, key: value}
    return tagged


def _map_concurrently(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``[fn(item) for item in items]``, in a small thread pool when there are several."""
    if len(items) <= 1:
        return [fn(item) for item in items]
    # imported here: concurrent.futures.thread registers an exit hook when imported, which
    # Python refuses once the interpreter is exiting (when the exporter may still log_trace)
    from concurrent.futures import ThreadPoolExecutor

    workers = min(_MAX_DOWNLOAD_THREADS, len(items))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="TrackletTraceLoad") as pool:
        return list(pool.map(fn, items))


class _TraceJSONEncoder(json.JSONEncoder):
    """MLflow's ``TraceJSONEncoder`` for what a span dict may still hold: pydantic models as
    their dump, dataclasses as their fields, anything else as ``str()``."""

    def default(self, o: Any) -> Any:
        dump = getattr(o, "model_dump", None)
        if callable(dump) and type(o).__module__.split(".")[0] != "builtins":
            try:
                return dump()
            except Exception:
                pass
        import dataclasses

        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            try:
                return {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
            except Exception:
                pass
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def _percentile(sorted_data: list[int], percentile: float) -> float:
    """MLflow's ``_calculate_percentile``: linear interpolation between nearest ranks."""
    if not sorted_data:
        return 0.0
    index = percentile * (len(sorted_data) - 1)
    lower = int(index)
    upper = lower + 1
    if upper >= len(sorted_data):
        return float(sorted_data[-1])
    weight = index - lower
    return sorted_data[lower] * (1 - weight) + sorted_data[upper] * weight


def _add_size_stats(trace: Trace) -> None:
    """MLflow's ``add_size_stats_to_trace_metadata``: metadata ``mlflow.trace.sizeStats``
    (JSON) and ``mlflow.trace.sizeBytes``, unless the trace already has them. Never raises."""
    from tracklet.entities import Trace, TraceData

    metadata = trace.info.trace_metadata
    if _SIZE_STATS in metadata:
        return
    try:
        sizes = [
            len(json.dumps(span.to_dict(), cls=_TraceJSONEncoder).encode("utf-8"))
            for span in trace.data.spans
        ]
        if not sizes:
            return
        metadata_size = len(Trace(trace.info, TraceData(spans=[])).to_json().encode("utf-8"))
        total = sum(sizes) + metadata_size + (len(sizes) - 1) * 2
        ordered = sorted(sizes)
        stats = {
            "total_size_bytes": total,
            "num_spans": len(sizes),
            "max": max(sizes),
            "p25": int(_percentile(ordered, 0.25)),
            "p50": int(_percentile(ordered, 0.50)),
            "p75": int(_percentile(ordered, 0.75)),
        }
        metadata[_SIZE_STATS] = json.dumps(stats)
        metadata[_SIZE_BYTES] = str(total)
    except Exception:
        _logger.warning("Failed to add size stats to trace metadata.", exc_info=True)
