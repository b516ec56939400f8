"""The server's pure helpers: bulk-interval sampling, proxied artifact URI mapping,
integer range checks."""

from __future__ import annotations

import pytest

from tracklet.entities import Metric
from tracklet.exceptions import TrackletException
from tracklet_http.protocol import ENDPOINTS_BY_NAME, parse_request
from tracklet_http.server.handlers import check_ranges, proxied_artifact_path, sample_bulk_interval


def _history(run_id: str, steps: range, per_step: int = 1) -> list[Metric]:
    return [
        Metric("m", float(s), 1000 + s * 10 + i, s, run_id=run_id) for s in steps for i in range(per_step)
    ]


def test_everything_comes_back_when_under_the_cap() -> None:
    points = _history("a", range(5)) + _history("b", range(3))
    out = sample_bulk_interval(points, ["b", "a"], None, None, 100)
    assert [(m.run_id, m.step) for m in out] == [("b", 0), ("b", 1), ("b", 2)] + [("a", s) for s in range(5)]


def test_step_range_is_inclusive() -> None:
    out = sample_bulk_interval(_history("a", range(10)), ["a"], 3, 5, 100)
    assert [m.step for m in out] == [3, 4, 5]


def test_sampling_keeps_each_runs_ends_and_caps_the_size() -> None:
    points = _history("a", range(1000)) + _history("b", range(10, 500))
    out = sample_bulk_interval(points, ["a", "b"], None, None, 50)
    a = [m.step for m in out if m.run_id == "a"]
    b = [m.step for m in out if m.run_id == "b"]
    assert a[0] == 0 and a[-1] == 999 and a == sorted(a)
    assert b[0] == 10 and b[-1] == 499
    assert len(a) <= 50 + 4 and len(b) <= 50 + 4
    gaps = [y - x for x, y in zip(a, a[1:], strict=False)]
    assert max(gaps) <= 2 * (1000 // 50)  # spread evenly, not truncated


def test_many_points_on_one_step_are_capped_too() -> None:
    out = sample_bulk_interval(_history("a", range(1), per_step=5000), ["a"], None, None, 100)
    assert len(out) == 100
    assert [m.timestamp for m in out] == sorted(m.timestamp for m in out)


def test_unknown_runs_and_points_of_runs_not_asked_for_are_ignored() -> None:
    out = sample_bulk_interval(_history("x", range(3)), ["a"], None, None, 10)
    assert out == []


@pytest.mark.parametrize(
    "uri, path",
    [
        ("mlflow-artifacts:/1/abc/artifacts", "1/abc/artifacts"),
        ("mlflow-artifacts://server:5000/1/abc/artifacts", "1/abc/artifacts"),
        ("mlflow-artifacts:/", ""),
        ("http://host:5000/api/2.0/mlflow-artifacts/artifacts/2/r/artifacts", "2/r/artifacts"),
        ("https://host/prefix/api/2.0/mlflow-artifacts/artifacts/2/r", "2/r"),
        ("s3://bucket/1/abc/artifacts", None),
        ("/local/folder", None),
        ("http://host:5000/some/other/place", None),
    ],
)
def test_proxied_artifact_path(uri: str, path: str | None) -> None:
    assert proxied_artifact_path(uri) == path


@pytest.mark.parametrize(
    "uri",
    [
        "mlflow-artifacts:/1/../../etc",
        "mlflow-artifacts:/1/%2e%2e/%2e%2e/etc",
        "mlflow-artifacts:/a\\..\\b",
        "http://h/api/2.0/mlflow-artifacts/artifacts/../x",
    ],
)
def test_proxied_artifact_path_refuses_escapes(uri: str) -> None:
    with pytest.raises(TrackletException) as info:
        proxied_artifact_path(uri)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    "name, body",
    [
        ("search_runs", {"max_results": 2**31}),
        ("log_metric", {"run_id": "r", "key": "k", "value": 1, "timestamp": 1, "step": 2**63}),
        ("create_run", {"start_time": -(2**63) - 1}),
        ("log_batch", {"run_id": "r", "metrics": [{"key": "k", "value": 1, "timestamp": 2**64}]}),
    ],
)
def test_check_ranges_refuses_integers_that_do_not_fit(name: str, body: dict[str, object]) -> None:
    endpoint = ENDPOINTS_BY_NAME[name]
    with pytest.raises(TrackletException, match="must fit in"):
        check_ranges(endpoint, parse_request(endpoint, body))


def test_check_ranges_accepts_the_extremes() -> None:
    endpoint = ENDPOINTS_BY_NAME["log_batch"]
    body = {"run_id": "r", "metrics": [{"key": "k", "value": 1, "timestamp": 2**63 - 1, "step": -(2**63)}]}
    check_ranges(endpoint, parse_request(endpoint, body))
