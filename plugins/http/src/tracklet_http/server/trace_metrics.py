"""MLflow's ``POST /api/3.0/mlflow/traces/metrics`` (QueryTraceMetrics), which MLflow 3.17's
web UI calls for the charts of an experiment's trace overview: trace counts, latency
(average, min, max, percentiles), token sums, per trace name or status, per time bucket.

Computed in Python over the store's trace infos (every trace of the experiments, read
page by page), with MLflow's rules: the same metric names, aggregations and dimensions
allowed per metric, null values left out of an aggregation, percentiles interpolated
linearly (SQL's ``percentile_cont``), time buckets floored to ``time_interval_seconds``
and named by their ISO 8601 start, start and end times inclusive, groups ordered by time
bucket then dimensions, at most ``max_results`` data points.

The ``TRACES`` view is computed from the trace infos; the ``SPANS`` view's ``span_count``
and ``latency`` from every trace's spans (read one trace at a time, so a chart over many
traces costs a read of each). Span costs (``input_cost``…) and the ``ASSESSMENTS`` view are
checked like MLflow checks them and answer no data points.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

__all__ = ["query_trace_metrics"]

#: MLflow's default (and the UI's) page of data points.
MAX_RESULTS = 1000
_PAGE = 500

_COUNT, _SUM, _AVG, _PCT, _MIN, _MAX = "COUNT", "SUM", "AVG", "PERCENTILE", "MIN", "MAX"
_NUMERIC = frozenset({_SUM, _AVG, _PCT, _MIN, _MAX})
_TRACE_DIMS = frozenset({"trace_name", "trace_status"})
_TOKEN_KEYS = (
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)
#: metric -> (aggregations allowed, dimensions allowed), per view: MLflow's tables.
_CONFIGS: dict[str, dict[str, tuple[frozenset[str], frozenset[str]]]] = {
    "TRACES": {
        "trace_count": (frozenset({_COUNT}), _TRACE_DIMS),
        "session_count": (frozenset({_COUNT}), frozenset()),
        "latency": (frozenset({_AVG, _MIN, _MAX, _PCT}), frozenset({"trace_name"})),
        **{key: (_NUMERIC, frozenset({"trace_name"})) for key in _TOKEN_KEYS},
    },
    "SPANS": {
        "span_count": (
            frozenset({_COUNT}),
            frozenset({"span_name", "span_type", "span_status", "span_model_name", "span_model_provider"}),
        ),
        "latency": (frozenset({_AVG, _MIN, _MAX, _PCT}), frozenset({"span_name", "span_status"})),
        **{
            key: (_NUMERIC, frozenset({"span_name", "span_model_name", "span_model_provider"}))
            for key in ("input_cost", "output_cost", "total_cost")
        },
    },
    "ASSESSMENTS": {
        "assessment_count": (frozenset({_COUNT}), frozenset({"assessment_name", "assessment_value"})),
        "assessment_value": (frozenset({_AVG, _MIN, _MAX, _PCT}), frozenset({"assessment_name"})),
    },
}
_FILTER = re.compile(
    r"""^\s*trace\.(?P<entity>status|tag|metadata)(?:\.(?:`(?P<qkey>[^`]+)`|(?P<key>[\w.\-]+)))?"""
    r"""\s*=\s*(?P<quote>["'])(?P<value>.*)(?P=quote)\s*$"""
)


def _bad(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


def _aggregation(item: Any) -> tuple[str, float | None]:
    if not isinstance(item, dict) or not isinstance(item.get("aggregation_type"), str):
        raise _bad(
            f"Invalid aggregation {json.dumps(item)}: each of 'aggregations' is an object with an "
            "'aggregation_type' (COUNT, SUM, AVG, PERCENTILE, MIN or MAX)."
        )
    kind = item["aggregation_type"]
    percentile = item.get("percentile_value")
    if kind == _PCT:
        if not isinstance(percentile, (int, float)) or not 0 <= percentile <= 100:
            raise _bad(
                f"A PERCENTILE aggregation needs 'percentile_value' between 0 and 100, got {percentile!r}."
            )
        return kind, float(percentile)
    if percentile is not None:
        raise _bad(f"Percentile value is only allowed for PERCENTILE aggregation type, got {kind}")
    return kind, None


def _validate(view: str, metric: str, aggregations: list[tuple[str, float | None]], dims: list[str]) -> None:
    """MLflow's checks and words (``validate_query_trace_metrics_params``)."""
    if view not in _CONFIGS:
        raise _bad(f"view_type must be one of {list(_CONFIGS)}, got '{view}'")
    if metric not in _CONFIGS[view]:
        raise _bad(f"metric_name must be one of {list(_CONFIGS[view])}, got '{metric}'")
    allowed_aggs, allowed_dims = _CONFIGS[view][metric]
    invalid = sorted({kind for kind, _ in aggregations} - allowed_aggs)
    if invalid:
        raise _bad(
            f"Found invalid aggregation_type(s): {invalid}. "
            f"Supported aggregation types: {sorted(allowed_aggs)}"
        )
    invalid = sorted(set(dims) - allowed_dims)
    if invalid:
        raise _bad(f"Found invalid dimension(s): {invalid}. Supported dimensions: {sorted(allowed_dims)}")


def _predicate(filter_string: str) -> Callable[[Any], bool]:
    """One filter clause on a trace: ``trace.status = "OK"``, ``trace.tag.<key> = "v"``,
    ``trace.metadata.<key> = "v"``."""
    match = _FILTER.match(filter_string)
    key = match and (match.group("qkey") or match.group("key"))
    if match is None or (match.group("entity") == "status") != (key is None):
        raise _bad(
            f"Invalid filter: '{filter_string}'. tracklet's trace metrics take one clause "
            "'trace.status = \"OK\"', 'trace.tag.<key> = \"value\"' or 'trace.metadata.<key> = \"value\"'."
        )
    value = match.group("value")
    entity = match.group("entity")
    if entity == "status":
        return lambda info: _status(info) == value
    if entity == "tag":
        return lambda info: dict(info.tags or {}).get(key) == value
    return lambda info: dict(info.trace_metadata or {}).get(key) == value


def _status(info: Any) -> str:
    state = info.state
    return str(getattr(state, "value", state))


def _tokens(info: Any) -> dict[str, Any]:
    raw = dict(info.trace_metadata or {}).get("mlflow.trace.tokenUsage")
    try:
        usage = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return usage if isinstance(usage, dict) else {}


def _value(metric: str, info: Any) -> Any:
    """The number the metric aggregates for a trace (None: left out, as SQL leaves nulls)."""
    if metric == "trace_count":
        return info.trace_id
    if metric == "session_count":
        return dict(info.trace_metadata or {}).get("mlflow.trace.session")
    if metric == "latency":
        return info.execution_duration
    value = _tokens(info).get(metric)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _dimension(name: str, info: Any) -> str | None:
    if name == "trace_name":
        return dict(info.tags or {}).get("mlflow.traceName")
    return _status(info)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _label(kind: str, percentile: float | None) -> str:
    return f"P{percentile}" if kind == _PCT else kind


def _aggregate(
    metric: str, values: list[Any], aggregations: list[tuple[str, float | None]]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for kind, percentile in aggregations:
        label = _label(kind, percentile)
        if kind == _COUNT:
            out[label] = float(len(set(values)) if metric == "session_count" else len(values))
        elif not values:
            continue  # SQL's AVG/SUM/... of nothing is null: MLflow leaves the value out
        elif kind == _SUM:
            out[label] = float(sum(values))
        elif kind == _AVG:
            out[label] = float(sum(values)) / len(values)
        elif kind == _MIN:
            out[label] = float(min(values))
        elif kind == _MAX:
            out[label] = float(max(values))
        else:
            out[label] = _percentile([float(v) for v in values], percentile or 0.0)
    return out


def _bucket(timestamp_ms: int, interval_s: int) -> str:
    width = interval_s * 1000
    start = (timestamp_ms // width) * width
    return datetime.fromtimestamp(start / 1000.0, tz=timezone.utc).isoformat()


#: one thing aggregated: (time for the window, time for the bucket, value, dimension values)
Row = tuple[int, int, Any, dict[str, Any]]


def trace_rows(infos: Iterable[Any], metric: str, filters: list[str]) -> Iterable[Row]:
    """The ``TRACES`` view: one row per trace, at its start time."""
    predicates = [_predicate(f) for f in filters]
    for info in infos:
        if all(p(info) for p in predicates):
            dims = {"trace_name": _dimension("trace_name", info), "trace_status": _status(info)}
            yield info.request_time, info.request_time, _value(metric, info), dims


def _span_status(span: dict[str, Any]) -> str | None:
    status = span.get("status")
    code = status.get("code") if isinstance(status, dict) else span.get("status_code")
    return str(code).removeprefix("STATUS_CODE_") if code else None


def _span_type(span: dict[str, Any]) -> str | None:
    raw = (span.get("attributes") or {}).get("mlflow.spanType")
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        value = raw
    return None if value is None else str(value)


def span_rows(
    infos: Iterable[Any], spans_of: Callable[[Any], list[dict[str, Any]]], metric: str, filters: list[str]
) -> Iterable[Row]:
    """The ``SPANS`` view: one row per span, windowed by its trace's start time and bucketed
    by its own start, as MLflow's SQL store does; latency in whole milliseconds."""
    trace_filters = [_predicate(f) for f in filters if f.lstrip().startswith("trace.")]
    span_filters = [_span_predicate(f) for f in filters if not f.lstrip().startswith("trace.")]
    for info in infos:
        if not all(p(info) for p in trace_filters):
            continue
        for span in spans_of(info):
            if not all(p(span) for p in span_filters):
                continue
            start, end = span.get("start_time_unix_nano"), span.get("end_time_unix_nano")
            value: Any = None
            if metric == "span_count":
                value = span.get("span_id")
            elif metric == "latency" and isinstance(start, int) and isinstance(end, int):
                value = (end - start) // 1_000_000
            dims = {
                "span_name": span.get("name"),
                "span_type": _span_type(span),
                "span_status": _span_status(span),
            }
            bucket_ms = start // 1_000_000 if isinstance(start, int) else info.request_time
            yield info.request_time, bucket_ms, value, dims


_SPAN_FILTER = re.compile(
    r"""^\s*span\.(?P<entity>name|type|status)\s*=\s*(?P<quote>["'])(?P<value>.*)(?P=quote)\s*$"""
)


def _span_predicate(filter_string: str) -> Callable[[dict[str, Any]], bool]:
    match = _SPAN_FILTER.match(filter_string)
    if match is None:
        raise _bad(
            f"Invalid filter: '{filter_string}'. tracklet's span metrics take one clause 'trace.…' "
            "(as for traces) or 'span.name = \"…\"', 'span.type = \"…\"', 'span.status = \"OK\"'."
        )
    entity, value = match.group("entity"), match.group("value")
    if entity == "name":
        return lambda span: span.get("name") == value
    if entity == "type":
        return lambda span: _span_type(span) == value
    return lambda span: _span_status(span) == value


def compute(
    rows: Iterable[Row],
    metric: str,
    aggregations: list[tuple[str, float | None]],
    dimensions: list[str],
    interval_s: int | None,
    start_ms: int | None,
    end_ms: int | None,
    max_results: int,
) -> list[dict[str, Any]]:
    """The data points, in MLflow's JSON."""
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for window_ms, bucket_ms, value, dim_values in rows:
        if start_ms is not None and window_ms < start_ms:
            continue
        if end_ms is not None and window_ms > end_ms:
            continue
        if value is None:
            continue
        group: list[Any] = [(bucket_ms // (interval_s * 1000)) * interval_s * 1000] if interval_s else []
        group.extend(dim_values.get(d) for d in dimensions)
        groups.setdefault(tuple(group), []).append(value)
    if not groups and not interval_s and not dimensions:
        groups[()] = []  # an aggregate without GROUP BY answers one row, even over nothing
    points = []
    # SQL's order (sqlite's: NULL first)
    for key in sorted(groups, key=lambda k: tuple((v is not None, v if v is not None else "") for v in k))[
        :max_results
    ]:
        names = (["time_bucket"] if interval_s else []) + dimensions
        dims = {}
        for name, value in zip(names, key, strict=True):
            if value is None:
                continue
            dims[name] = _bucket(value, interval_s) if name == "time_bucket" and interval_s else str(value)
        values = _aggregate(metric, groups[key], aggregations)
        if not values:
            continue  # every aggregate null (AVG of no trace): MLflow answers no point
        point: dict[str, Any] = {"metric_name": metric}
        if dims:
            point["dimensions"] = dims
        point["values"] = values
        points.append(point)
    return points


def _int(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    return None if value is None else int(value)


def query_trace_metrics(
    request: Any,
    search: Callable[[list[str], str | None], tuple[list[Any], str | None]],
    spans_of: Callable[[Any], list[dict[str, Any]]],
) -> dict[str, Any]:
    """The route's handler body; ``search(experiment_ids, page_token)`` reads one page of
    trace infos (the caller checks the experiments may be read), ``spans_of(info)`` a
    trace's spans (MLflow's span dictionaries)."""
    params = request.params
    view = str(params.get("view_type") or "")
    metric = str(params.get("metric_name") or "")
    aggregations = [_aggregation(a) for a in params.get("aggregations") or []]
    dimensions = [str(d) for d in params.get("dimensions") or []]
    _validate(view, metric, aggregations, dimensions)
    interval = _int(params, "time_interval_seconds")
    start_ms, end_ms = _int(params, "start_time_ms"), _int(params, "end_time_ms")
    if interval and (start_ms is None or end_ms is None):
        raise _bad("start_time_ms and end_time_ms are required if time_interval_seconds is set")
    if interval is not None and interval < 0:
        raise _bad(f"time_interval_seconds must be positive, got {interval}")
    max_results = _int(params, "max_results") or MAX_RESULTS
    filters = [str(f) for f in params.get("filters") or []]
    for f in filters:  # refuse a filter before reading anything
        if view == "TRACES" or f.lstrip().startswith("trace."):
            _predicate(f)
        elif view == "SPANS":
            _span_predicate(f)
        elif not f.lstrip().startswith("assessment."):
            raise _bad(f"Invalid filter: '{f}'. Assessment metrics take 'trace.…' or 'assessment.…' clauses.")
    if view == "ASSESSMENTS" or (view == "SPANS" and metric not in ("span_count", "latency")):
        return {}  # not computed: see the module's documentation

    def every_trace() -> Iterable[Any]:
        token: str | None = None
        while True:
            infos, token = search(list(params["experiment_ids"]), token)
            yield from infos
            if not token:
                return

    rows = (
        trace_rows(every_trace(), metric, filters)
        if view == "TRACES"
        else span_rows(every_trace(), spans_of, metric, filters)
    )
    points = compute(rows, metric, aggregations, dimensions, interval or None, start_ms, end_ms, max_results)
    return {"data_points": points} if points else {}
