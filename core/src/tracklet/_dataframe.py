"""Runs as a pandas DataFrame, with the columns ``mlflow.search_runs`` returns."""

from __future__ import annotations

from typing import Any, Sequence

from tracklet.entities import Run

_INFO_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")


def runs_to_dataframe(runs: Sequence[Run]) -> Any:
    """``run_id, experiment_id, status, artifact_uri, start_time, end_time`` (UTC datetimes),
    then ``metrics.*``, ``params.*``, ``tags.*`` columns (missing values are NaN/None)."""
    import pandas as pd

    info: dict[str, list[Any]] = {c: [] for c in _INFO_COLUMNS}
    metrics: dict[str, list[Any]] = {}
    params: dict[str, list[Any]] = {}
    tags: dict[str, list[Any]] = {}
    for i, run in enumerate(runs):
        for column in _INFO_COLUMNS:
            info[column].append(getattr(run.info, column))
        for store, values, fill in ((metrics, run.data.metrics, float("nan")), (params, run.data.params, None), (tags, run.data.tags, None)):
            for key in values:
                store.setdefault(key, [fill] * i)
            for key, column in store.items():
                column.append(values.get(key, fill))
    frame: dict[str, Any] = dict(info)
    frame["start_time"] = pd.to_datetime(info["start_time"], unit="ms", utc=True)
    frame["end_time"] = pd.to_datetime(info["end_time"], unit="ms", utc=True)
    for prefix, store in (("metrics", metrics), ("params", params), ("tags", tags)):
        for key in sorted(store):
            frame[f"{prefix}.{key}"] = store[key]
    return pd.DataFrame(frame)
