"""Copying into a server (capability ``import``) on the wire: tracklet's own routes, not
MLflow's API, shared by the REST client store and ``tracklet server``.

=========================================  ====  ===========================================
``/api/2.0/tracklet/experiments/import``   POST  ``{"experiment": Experiment}``
``/api/2.0/tracklet/runs/import``          POST  ``{"run": Run}`` (info, params, tags, inputs)
``/api/2.0/tracklet/metrics/import-history``  POST  ``{"run_id", "key", "metrics": [Metric],
                                                 "offset"}``
``/api/2.0/tracklet/metrics/get-histories``   GET   ``?run_id=`` -> ``{"metrics": [Metric]}``
=========================================  ====  ===========================================

Entities are MLflow's JSON shapes (:mod:`tracklet_http.protocol`'s encoders), with one
difference: a field that is None (a run without a name, an end time, an artifact URI) is
left out, and read back as None, so a copy keeps the difference between None and ``""``.

A history is sent in chunks of at most :data:`HISTORY_CHUNK` points (a request stays well
under the server's body limit). ``offset`` is the place of a chunk's first point in the
whole history: ``0`` replaces the stored history with the chunk; ``k > 0`` keeps the first
``k`` stored points and replaces the rest with the chunk. So every chunk sent again after
a timeout leaves the same history, and a history is replaced whole by the chunks from
offset 0 on; a chunk whose offset is past the stored points (one went missing) is
refused, except by a store that keeps exact repeats once (capability
``idempotent_metrics``), which may hold fewer points than were sent. The answers to ``get-histories`` list every point of every key, key by key,
each history in the store's order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tracklet.entities import (
    DatasetInput,
    Experiment,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunTag,
)
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.validation import canonical_experiment_id, canonical_run_id, validate_text
from tracklet_http import protocol as p

__all__ = [
    "HISTORY_CHUNK",
    "IMPORT_PREFIX",
    "PATHS",
    "chunks",
    "experiment_from_wire",
    "experiment_to_wire",
    "histories_from_wire",
    "histories_to_wire",
    "run_from_wire",
    "run_to_wire",
]

#: Where tracklet's own routes live (beside MLflow's ``/api/2.0/mlflow``).
IMPORT_PREFIX = "/api/2.0/tracklet"
#: Route name -> path.
PATHS = {
    "import_experiment": IMPORT_PREFIX + "/experiments/import",
    "import_run": IMPORT_PREFIX + "/runs/import",
    "import_metric_history": IMPORT_PREFIX + "/metrics/import-history",
    "get_metric_histories": IMPORT_PREFIX + "/metrics/get-histories",
}
#: Most points one ``import-history`` request carries (about 4 MB of JSON; the server's
#: default body limit is 32 MiB).
HISTORY_CHUNK = 50_000

_STATUSES = frozenset(p.SCALAR_SCHEMAS["RunStatus"]["enum"])


def _bad(name: str, rule: str, value: Any) -> TrackletException:
    shown = repr(value)
    shown = shown if len(shown) <= 100 else shown[:100] + "…"
    return TrackletException(f"Invalid value {shown} for '{name}': {rule}", INVALID_PARAMETER_VALUE)


def _object(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _bad(name, "expected a JSON object.", value)
    return value


def _text(d: Mapping[str, Any], field: str, name: str, default: str | None = None) -> str | None:
    value = d.get(field)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _bad(f"{name}.{field}", "expected a string.", value)
    validate_text(f"{name}.{field}", value)
    return value


def _text_or(d: Mapping[str, Any], field: str, name: str, default: str) -> str:
    value = _text(d, field, name)
    return default if value is None else value


def _int(d: Mapping[str, Any], field: str, name: str) -> int | None:
    value = d.get(field)
    return None if value is None else p.parse_int(value, f"{name}.{field}")


def _pairs(value: Any, name: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(name, "expected a list of {key, value} objects.", value)
    out = []
    for i, item in enumerate(value):
        item = _object(item, f"{name}[{i}]")
        key = _text(item, "key", f"{name}[{i}]")
        if key is None:
            raise _bad(f"{name}[{i}].key", "a key is required.", item)
        out.append((key, _text(item, "value", f"{name}[{i}]", "") or ""))
    return out


# -- experiments ------------------------------------------------------------------------------


def experiment_to_wire(experiment: Experiment) -> dict[str, Any]:
    """An experiment as ``experiments/import`` takes it."""
    return dict(p.experiment_to_json(experiment))


def experiment_from_wire(value: Any, name: str = "experiment") -> Experiment:
    """The experiment of an ``experiments/import`` request, every field checked."""
    d = _object(value, name)
    experiment_name = _text(d, "name", name)
    if experiment_name is None:
        raise _bad(f"{name}.name", "a name is required.", d.get("name"))
    return Experiment(
        canonical_experiment_id(d.get("experiment_id"), f"{name}.experiment_id"),
        experiment_name,
        _text_or(d, "artifact_location", name, ""),
        _text_or(d, "lifecycle_stage", name, "active"),
        dict(_pairs(d.get("tags"), f"{name}.tags")),
        _int(d, "creation_time", name),
        _int(d, "last_update_time", name),
    )


# -- runs -------------------------------------------------------------------------------------


def run_to_wire(run: Run) -> dict[str, Any]:
    """A run as ``runs/import`` takes it: info, params, tags and dataset inputs (its
    metrics travel as histories)."""
    info = run.info
    wire_info = p.run_info_to_json(info)
    del wire_info["run_uuid"]
    for field in ("run_name", "artifact_uri"):
        if getattr(info, field) is None:
            del wire_info[field]
    data: dict[str, Any] = {}
    if run.data.params:
        data["params"] = [{"key": k, "value": v} for k, v in run.data.params.items()]
    if run.data.tags:
        data["tags"] = [{"key": k, "value": v} for k, v in run.data.tags.items()]
    datasets = list(run.inputs.dataset_inputs) if run.inputs is not None else []
    inputs = {"dataset_inputs": [p.dataset_input_to_json(d) for d in datasets]} if datasets else {}
    return {"info": wire_info, "data": data, "inputs": inputs}


def run_from_wire(value: Any, name: str = "run") -> Run:
    """The run of a ``runs/import`` request, every field checked."""
    d = _object(value, name)
    info = _object(d.get("info"), f"{name}.info")
    where = f"{name}.info"
    status = _text_or(info, "status", where, "RUNNING")
    if status not in _STATUSES:
        raise _bad(f"{where}.status", f"expected one of {', '.join(sorted(_STATUSES))}.", status)
    run_info = RunInfo(
        run_id=canonical_run_id(info.get("run_id"), f"{where}.run_id"),
        experiment_id=canonical_experiment_id(info.get("experiment_id"), f"{where}.experiment_id"),
        user_id=_text_or(info, "user_id", where, ""),
        status=status,
        start_time=_int(info, "start_time", where),
        end_time=_int(info, "end_time", where),
        lifecycle_stage=_text_or(info, "lifecycle_stage", where, "active"),
        artifact_uri=_text(info, "artifact_uri", where),
        run_name=_text(info, "run_name", where),
    )
    data = _object(d.get("data") or {}, f"{name}.data")
    params = [Param(k, v) for k, v in _pairs(data.get("params"), f"{name}.data.params")]
    tags = [RunTag(k, v) for k, v in _pairs(data.get("tags"), f"{name}.data.tags")]
    inputs = _object(d.get("inputs") or {}, f"{name}.inputs")
    raw = inputs.get("dataset_inputs") or []
    if not isinstance(raw, list):
        raise _bad(f"{name}.inputs.dataset_inputs", "expected a list.", raw)
    datasets: list[DatasetInput] = [
        p.dataset_input_from_json(item, f"{name}.inputs.dataset_inputs[{i}]") for i, item in enumerate(raw)
    ]
    return Run(run_info, RunData([], params, tags), RunInputs(datasets))


# -- histories --------------------------------------------------------------------------------


def chunks(points: Sequence[Metric], size: int | None = None) -> Iterator[tuple[int, Sequence[Metric]]]:
    """``(offset, points)`` of each request a history is sent in; one (possibly empty)
    chunk at least. A chunk never ends between points of the same step and timestamp,
    so a store that orders a history by (step, timestamp) keeps each chunk's points
    together whatever order it gives equal ones."""
    size = size or HISTORY_CHUNK
    start = 0
    total = len(points)
    while True:
        end = min(start + size, total)
        while 0 < end < total and _same_place(points[end - 1], points[end]):
            end += 1
        yield start, points[start:end]
        if end >= total:
            return
        start = end


def _same_place(a: Metric, b: Metric) -> bool:
    return a.step == b.step and a.timestamp == b.timestamp


def histories_to_wire(histories: Mapping[str, Sequence[Metric]]) -> dict[str, Any]:
    """The answer to ``get-histories``."""
    points = [p.metric_to_json(m) for key in histories for m in histories[key]]
    return {"metrics": points} if points else {}


def histories_from_wire(answer: Mapping[str, Any], run_id: str) -> dict[str, list[Metric]]:
    """``get-histories``' answer, by key, each history in the order sent."""
    out: dict[str, list[Metric]] = {}
    for d in answer.get("metrics") or []:
        m = p.metric_json_to_entity(d)
        out.setdefault(m.key, []).append(Metric(m.key, m.value, m.timestamp, m.step, run_id=run_id))
    return out
