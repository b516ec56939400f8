"""Conformance tests for ``sample_metric_history``: M4 sampling of one metric history
(what a chart draws), the same answer whether a store samples in its database or uses
the contract's default, which reads the history."""

from __future__ import annotations

import math

from tracklet.entities import Metric
from tracklet.exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST
from tracklet.stores import TrackingStore
from tracklet.testing._support import T0, UNKNOWN_RUN_ID, raises_code

_N = 1000


def _points(sampled: list[Metric]) -> list[tuple[int, int, float]]:
    return [(m.step, m.timestamp, m.value) for m in sampled]


def _same(a: list[Metric], b: list[Metric]) -> bool:
    """Equal point for point, NaN equal to NaN."""
    return len(a) == len(b) and all(
        (x.step, x.timestamp) == (y.step, y.timestamp)
        and (x.value == y.value or (math.isnan(x.value) and math.isnan(y.value)))
        for x, y in zip(a, b, strict=True)
    )


def _log(store: TrackingStore, run_id: str, metrics: list[Metric]) -> None:
    for i in range(0, len(metrics), 1000):
        store.log_batch(run_id, metrics[i : i + 1000], [], [])


def _wave(n: int = _N) -> list[Metric]:
    """A noisy decaying curve with one spike up, one down, and ties for the lowest value."""
    values = [1.0 + ((i * 7919) % 101) / 1000.0 - i / (4 * n) for i in range(n)]
    values[313], values[777] = 50.0, -40.0
    values[500] = values[501] = -1.0  # two equal lows in one bucket: the earlier is kept
    return [Metric("m", v, T0 + 10 * i, i) for i, v in enumerate(values)]


def _default(store: TrackingStore, run_id: str, *args: object) -> tuple[int, list[Metric]]:
    """What the contract's default (reading the history) answers."""
    return TrackingStore._sample_metric_history(store, run_id, "m", *args)  # type: ignore[arg-type]


class SamplingTests:
    """``sample_metric_history``: counts, extremes kept, windows, NaN and ±inf, errors."""

    def test_a_short_history_comes_back_whole(self, store: TrackingStore, run_id: str) -> None:
        _log(store, run_id, [Metric("m", float(i), T0 + i, 10 - i) for i in range(10)])
        total, points = store.sample_metric_history(run_id, "m", 40)
        assert total == 10
        assert [m.step for m in points] == list(range(1, 11))

    def test_a_long_history_keeps_its_extremes_within_max_points(
        self, store: TrackingStore, run_id: str
    ) -> None:
        _log(store, run_id, _wave())
        total, points = store.sample_metric_history(run_id, "m", 40)
        assert total == _N
        assert 10 < len(points) <= 40
        values = [m.value for m in points]
        assert max(values) == 50.0 and min(values) == -40.0
        assert points[0].step == 0 and points[-1].step == _N - 1
        assert [m.step for m in points] == sorted(m.step for m in points)
        assert (500, T0 + 5000, -1.0) in _points(points) and (501, T0 + 5010, -1.0) not in _points(points)

    def test_the_answer_is_the_defaults(self, store: TrackingStore, run_id: str) -> None:
        metrics = _wave()
        metrics[100] = Metric("m", math.nan, metrics[100].timestamp, 100)
        metrics[0] = Metric("m", math.nan, metrics[0].timestamp, 0)
        metrics[600] = Metric("m", math.inf, metrics[600].timestamp, 600)
        metrics[900] = Metric("m", -math.inf, metrics[900].timestamp, 900)
        _log(store, run_id, metrics)
        for args in [
            (40, "step", None, None),
            (100, "step", 95.5, 640.0),
            (40, "time", None, None),
            (12, "time", T0 + 2000, T0 + 7000),
        ]:
            total, points = store.sample_metric_history(run_id, "m", *args)
            expected_total, expected = _default(store, run_id, *args)
            assert total == expected_total
            assert _same(points, expected), args

    def test_by_time_when_time_goes_back(self, store: TrackingStore, run_id: str) -> None:
        # steps logged from two clocks: time is not in step order
        metrics = [Metric("m", float((i * 37) % 101), T0 + ((i * 7919) % _N) * 10, i) for i in range(_N)]
        _log(store, run_id, metrics)
        for args in [(40, "time", None, None), (16, "time", T0 + 1000, T0 + 5000)]:
            total, points = store.sample_metric_history(run_id, "m", *args)
            expected_total, expected = _default(store, run_id, *args)
            assert total == expected_total and _same(points, expected), args
            assert [m.timestamp for m in points] == sorted(m.timestamp for m in points)

    def test_infinities_are_extremes_and_nan_is_kept_at_the_edges(
        self, store: TrackingStore, run_id: str
    ) -> None:
        metrics = _wave()
        metrics[0] = Metric("m", math.nan, metrics[0].timestamp, 0)
        metrics[600] = Metric("m", math.inf, metrics[600].timestamp, 600)
        metrics[900] = Metric("m", -math.inf, metrics[900].timestamp, 900)
        _log(store, run_id, metrics)
        _, points = store.sample_metric_history(run_id, "m", 40)
        values = [m.value for m in points]
        stored = [m.value for m in store.get_metric_history(run_id, "m") if not math.isnan(m.value)]
        # ±inf as the store keeps them (MLflow's schema keeps the largest doubles instead)
        assert max(stored) in values and min(stored) in values
        assert max(stored) >= 1.7e308 and min(stored) <= -1.7e308
        assert math.isnan(values[0])

    def test_a_window_is_sampled_at_full_resolution(self, store: TrackingStore, run_id: str) -> None:
        _log(store, run_id, _wave())
        total, points = store.sample_metric_history(run_id, "m", 40, "step", 299.5, 330)
        assert total == 31
        assert [m.step for m in points] == list(range(300, 331))
        total, points = store.sample_metric_history(run_id, "m", 40, "time", T0 + 3000, T0 + 3100)
        assert total == 11 and [m.step for m in points] == list(range(300, 311))
        assert store.sample_metric_history(run_id, "m", 40, "step", 5000, None) == (0, [])

    def test_an_unknown_metric_has_no_points(self, store: TrackingStore, run_id: str) -> None:
        assert store.sample_metric_history(run_id, "nothing", 40) == (0, [])

    def test_bad_arguments_are_refused_naming_the_field(self, store: TrackingStore, run_id: str) -> None:
        with raises_code(INVALID_PARAMETER_VALUE) as refused:
            store.sample_metric_history(run_id, "m", 3)
        assert "max_points" in refused.value.message
        with raises_code(INVALID_PARAMETER_VALUE) as refused:
            store.sample_metric_history(run_id, "m", 40, "wall")
        assert "x_axis" in refused.value.message
        with raises_code(INVALID_PARAMETER_VALUE) as refused:
            store.sample_metric_history(run_id, "m", 40, "step", math.nan)
        assert "min_x" in refused.value.message
        with raises_code(RESOURCE_DOES_NOT_EXIST):
            store.sample_metric_history(UNKNOWN_RUN_ID, "m", 40)
