"""``GET /api/2.0/tracklet/ui/metric-series``: metric histories sampled for a chart.

A chart is a few thousand pixels wide, a history may hold a million points. For each run
asked for, the store's :meth:`~tracklet.stores.TrackingStore.sample_metric_history` keeps
at most ``max_points`` points: per x bucket the first, the last, the lowest and the
highest (M4), so every peak and dip of the whole history still shows. ``min_x``/``max_x``
ask for a zoom window, sampled at full resolution again. Non-finite values are sent as
MLflow's JSON sends them: ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.

One run per call: ``tracklet server --auth`` then checks READ on that run's experiment
before the handler runs (the UI asks for several runs' series in parallel). The answer
keeps the list shape, ``{"series": [...]}``, so a call for several runs can come later
without changing clients.
"""

from __future__ import annotations

import math
from typing import Any

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.routes import Field, Route, RoutePermission, RouteRequest

__all__ = ["MAX_POINTS_DEFAULT", "MAX_POINTS_RANGE", "PATH", "metric_series", "routes"]

PATH = "/api/2.0/tracklet/ui/metric-series"
MAX_POINTS_DEFAULT = 2000
#: Smallest and largest ``max_points`` accepted.
MAX_POINTS_RANGE = (10, 20000)
X_AXES = ("step", "time")


def _refuse(field: str, value: Any, rule: str) -> TrackletException:
    return TrackletException(
        f"Invalid value {value!r} for parameter '{field}' of metric-series: {rule}.", INVALID_PARAMETER_VALUE
    )


def _json_number(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _check(params: dict[str, Any]) -> tuple[list[str], int, str]:
    run_ids = [params["run_id"]]
    max_points = params.get("max_points", MAX_POINTS_DEFAULT)
    low, high = MAX_POINTS_RANGE
    if not low <= max_points <= high:
        raise _refuse("max_points", max_points, f"an integer from {low} to {high}")
    x_axis = params.get("x_axis") or "step"
    if x_axis not in X_AXES:
        raise _refuse("x_axis", x_axis, "one of 'step', 'time'")
    for name in ("min_x", "max_x"):
        bound = params.get(name)
        if bound is not None and math.isnan(bound):
            raise _refuse(name, "NaN", "a number")
    min_x, max_x = params.get("min_x"), params.get("max_x")
    if min_x is not None and max_x is not None and min_x > max_x:
        raise _refuse("max_x", max_x, f"not below min_x ({min_x})")
    return run_ids, max_points, x_axis


def metric_series(request: RouteRequest) -> dict[str, Any]:
    """The handler: the sampled series of the run asked for."""
    params = request.params
    run_ids, max_points, x_axis = _check(params)
    metric_key = params["metric_key"]
    store = request.tracking_store
    series = []
    for run_id in run_ids:
        total, points = store.sample_metric_history(
            run_id, metric_key, max_points, x_axis, params.get("min_x"), params.get("max_x")
        )
        series.append(
            {
                "run_id": run_id,
                "metric_key": metric_key,
                "total_points": total,
                "sampled": len(points) < total,
                "points": [[m.step, m.timestamp, _json_number(m.value)] for m in points],
            }
        )
    return {"series": series}


def routes() -> list[Route]:
    """The route tracklet-ui contributes to ``tracklet server`` for its charts."""
    return [
        Route(
            "tracklet_ui_metric_series",
            "GET",
            PATH,
            metric_series,
            fields=(
                Field(
                    "run_id",
                    "RunId",
                    required=True,
                    doc="The run to draw (one per call: authorized per run).",
                ),
                Field("metric_key", required=True, doc="The metric's key."),
                Field(
                    "max_points",
                    "int32",
                    doc=f"At most this many points per run ({MAX_POINTS_RANGE[0]}..{MAX_POINTS_RANGE[1]}, "
                    f"default {MAX_POINTS_DEFAULT}).",
                ),
                Field(
                    "x_axis", doc="'step' (default) or 'time': what buckets and the window are measured in."
                ),
                Field("min_x", "double", doc="Start of a zoom window (inclusive), in x_axis units."),
                Field("max_x", "double", doc="End of a zoom window (inclusive), in x_axis units."),
            ),
            summary="One metric of several runs, downsampled for a chart keeping every extreme (M4: first, "
            "last, lowest and highest point per x bucket); answers "
            '{"series": [{"run_id", "metric_key", "total_points", "sampled", "points": [[step, timestamp, value]]}]}.',
            permission=RoutePermission("run", "run_id", "READ"),
        )
    ]
