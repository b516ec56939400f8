"""Runs as a pandas DataFrame, with the columns ``mlflow.search_runs`` returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
    groups: tuple[tuple[dict[str, list[Any]], str, Any], ...] = (
        (metrics, "metrics", float("nan")),
        (params, "params", None),
        (tags, "tags", None),
    )
    for i, run in enumerate(runs):
        for name in _INFO_COLUMNS:
            info[name].append(getattr(run.info, name))
        for store, attr, fill in groups:
            values: dict[str, Any] = getattr(run.data, attr)
            for key in values:
                store.setdefault(key, [fill] * i)
            for key, cells in store.items():
                cells.append(values.get(key, fill))
    frame: dict[str, Any] = dict(info)
    if runs:  # no runs: empty columns of pandas' default type, as MLflow gives
        frame["start_time"] = pd.to_datetime(info["start_time"], unit="ms", utc=True)
        frame["end_time"] = pd.to_datetime(info["end_time"], unit="ms", utc=True)
    for prefix, store in (("metrics", metrics), ("params", params), ("tags", tags)):
        for key in sorted(store):
            frame[f"{prefix}.{key}"] = store[key]
    return pd.DataFrame(frame)
