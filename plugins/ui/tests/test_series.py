"""metric-series: the handler on a real sqlite store (the route's own checks and its
answer's JSON shape; the sampling itself is the conformance suite's SamplingTests)."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest

from tracklet.entities import Metric
from tracklet.exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.plugins import get_tracking_store
from tracklet_ui import series

T0 = 1_700_000_000_000


@dataclasses.dataclass
class Request:
    """What the server hands a route: the checked fields and its store."""

    params: dict[str, Any]
    tracking_store: Any


@pytest.fixture
def store(tmp_path: Any) -> Any:
    store = get_tracking_store(f"sqlite:///{tmp_path}/t.db", str(tmp_path / "artifacts"))
    yield store
    store.close()


@pytest.fixture
def run_id(store: Any) -> str:
    run_id: str = store.create_run("0", "u", T0, [], "r").info.run_id
    values = [math.sin(i / 50) for i in range(5000)]
    values[1234], values[4321] = 100.0, -100.0
    values[0], values[20], values[30] = math.nan, math.inf, -math.inf  # NaN first: kept
    metrics = [Metric("loss", v, T0 + i, i) for i, v in enumerate(values)]
    for i in range(0, len(metrics), 1000):
        store.log_batch(run_id, metrics[i : i + 1000], [], [])
    return run_id


def call(store: Any, **params: Any) -> dict[str, Any]:
    answer = series.metric_series(Request(params, store))
    return json.loads(json.dumps(answer, allow_nan=False))  # what goes on the wire is strict JSON


def test_a_long_history_comes_back_sampled_with_its_extremes(store: Any, run_id: str) -> None:
    (one,) = call(store, run_id=run_id, metric_key="loss", max_points=200)["series"]
    assert one["run_id"] == run_id and one["metric_key"] == "loss"
    assert one["total_points"] == 5000 and one["sampled"] is True
    points = one["points"]
    assert len(points) <= 200
    values = [p[2] for p in points]
    assert 100.0 in values and -100.0 in values
    assert {"NaN", "Infinity", "-Infinity"} <= set(values)  # MLflow's JSON spelling
    assert [p[0] for p in points] == sorted(p[0] for p in points)
    assert points[0][:2] == [0, T0] and points[-1][:2] == [4999, T0 + 4999]


def test_the_default_is_2000_points(store: Any, run_id: str) -> None:
    (one,) = call(store, run_id=run_id, metric_key="loss")["series"]
    assert 1000 < len(one["points"]) <= series.MAX_POINTS_DEFAULT


def test_a_zoom_window_comes_back_whole(store: Any, run_id: str) -> None:
    (one,) = call(store, run_id=run_id, metric_key="loss", min_x=1200.0, max_x=1300.0)["series"]
    assert one["total_points"] == 101 and one["sampled"] is False
    assert [p[0] for p in one["points"]] == list(range(1200, 1301))
    (by_time,) = call(
        store, run_id=run_id, metric_key="loss", x_axis="time", min_x=T0 + 10.0, max_x=T0 + 12.0
    )["series"]
    assert [p[0] for p in by_time["points"]] == [10, 11, 12]


def test_an_unknown_metric_is_an_empty_series(store: Any, run_id: str) -> None:
    (one,) = call(store, run_id=run_id, metric_key="nothing")["series"]
    assert one == {
        "run_id": run_id,
        "metric_key": "nothing",
        "total_points": 0,
        "sampled": False,
        "points": [],
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"max_points": 9}, "max_points"),
        ({"max_points": 20001}, "max_points"),
        ({"x_axis": "wall"}, "x_axis"),
        ({"min_x": math.nan}, "min_x"),
        ({"min_x": 5.0, "max_x": 4.0}, "max_x"),
    ],
)
def test_bad_fields_are_refused_by_name(store: Any, run_id: str, params: dict[str, Any], field: str) -> None:
    with pytest.raises(TrackletException) as refused:
        call(store, run_id=run_id, metric_key="loss", **params)
    assert refused.value.error_code == INVALID_PARAMETER_VALUE
    assert f"'{field}'" in refused.value.message


def test_an_unknown_run_is_not_found(store: Any) -> None:
    with pytest.raises(TrackletException) as refused:
        call(store, run_id="0" * 32, metric_key="loss")
    assert refused.value.error_code == RESOURCE_DOES_NOT_EXIST


def test_the_route_is_declared_for_the_server() -> None:
    (route,) = series.routes()
    assert (route.method, route.path) == ("GET", "/api/2.0/tracklet/ui/metric-series")
    assert route.permission is not None and (route.permission.resource, route.permission.key) == (
        "run",
        "run_id",
    )
    assert {f.name for f in route.fields if f.required} == {"run_id", "metric_key"}
