"""Conformance tests for metric values: NaN and ±inf, which value is "latest", and
get_metric_history's order and paging."""

from __future__ import annotations

import math

import pytest

from tracklet.entities import Metric
from tracklet.stores import TrackingStore
from tracklet.testing._support import T0, UNKNOWN_RUN_ID, lacks, pages, raises_code, requires


def _history(store: TrackingStore, run_id: str, key: str) -> list[tuple[float, int, int]]:
    return [(m.value, m.timestamp, m.step) for m in store.get_metric_history(run_id, key)]


class MetricTests:
    """Metric values, the latest-value rule and metric histories."""

    def test_nan_and_infinities_round_trip(self, store: TrackingStore, run_id: str) -> None:
        values = {"nan": math.nan, "pos_inf": math.inf, "neg_inf": -math.inf, "zero": 0.0, "tiny": 5e-324}
        store.log_batch(run_id, [Metric(k, v, T0, 0) for k, v in values.items()], [], [])
        latest = store.get_run(run_id).data.metrics
        assert math.isnan(latest["nan"])
        assert latest["pos_inf"] == math.inf and latest["neg_inf"] == -math.inf
        assert latest["zero"] == 0.0 and latest["tiny"] == 5e-324
        history = {k: store.get_metric_history(run_id, k)[0].value for k in values}
        assert math.isnan(history["nan"])
        assert history["pos_inf"] == math.inf and history["neg_inf"] == -math.inf

    def test_integer_values_come_back_as_numbers(self, store: TrackingStore, run_id: str) -> None:
        store.log_metric(run_id, Metric("int", 3, T0, 0))
        assert store.get_run(run_id).data.metrics["int"] == 3.0

    def test_latest_value_has_the_largest_step(self, store: TrackingStore, run_id: str) -> None:
        # later timestamps and larger values at smaller steps do not win
        store.log_batch(
            run_id,
            [Metric("m", 1.0, T0 + 50, 2), Metric("m", 9.0, T0 + 100, 1), Metric("m", 8.0, T0 + 900, 0)],
            [],
            [],
        )
        store.log_metric(run_id, Metric("m", 7.0, T0 + 999, 1))  # logged last, still an older step
        latest = store.get_run(run_id).data
        assert latest.metrics["m"] == 1.0
        (obj,) = [m for m in latest.metric_objs if m.key == "m"]
        assert (obj.value, obj.timestamp, obj.step) == (1.0, T0 + 50, 2)

    def test_latest_value_then_has_the_largest_timestamp(self, store: TrackingStore, run_id: str) -> None:
        store.log_batch(run_id, [Metric("m", 5.0, T0 + 100, 1), Metric("m", 1.0, T0 + 200, 1)], [], [])
        store.log_metric(run_id, Metric("m", 9.0, T0 + 150, 1))
        assert store.get_run(run_id).data.metrics["m"] == 1.0

    def test_latest_value_then_is_the_largest_value(self, store: TrackingStore, run_id: str) -> None:
        store.log_batch(run_id, [Metric("m", 5.0, T0, 1), Metric("m", 7.0, T0, 1)], [], [])
        store.log_metric(run_id, Metric("m", 6.0, T0, 1))
        assert store.get_run(run_id).data.metrics["m"] == 7.0

    def test_negative_steps_are_allowed(self, store: TrackingStore, run_id: str) -> None:
        store.log_batch(run_id, [Metric("m", 1.0, T0, -5), Metric("m", 2.0, T0, -10)], [], [])
        assert store.get_run(run_id).data.metrics["m"] == 1.0

    def test_history_keeps_every_point_in_order(self, store: TrackingStore, run_id: str) -> None:
        points = [(float(i) / 2, T0 + i, i) for i in range(10)]
        store.log_batch(run_id, [Metric("m", v, t, s) for v, t, s in points[:6]], [], [])
        for v, t, s in points[6:]:
            store.log_metric(run_id, Metric("m", v, t, s))
        assert _history(store, run_id, "m") == points
        assert all(m.key == "m" for m in store.get_metric_history(run_id, "m"))

    @lacks("idempotent_metrics")
    def test_history_keeps_repeated_points(self, store: TrackingStore, run_id: str) -> None:
        store.log_batch(run_id, [Metric("m", 1.0, T0, 0), Metric("m", 1.0, T0, 0)], [], [])
        store.log_metric(run_id, Metric("m", 1.0, T0, 0))
        assert _history(store, run_id, "m") == [(1.0, T0, 0)] * 3

    @requires("idempotent_metrics")
    def test_history_stores_a_repeated_point_once(self, store: TrackingStore, run_id: str) -> None:
        batch = [Metric("m", 1.0, T0, 0), Metric("m", 1.0, T0, 0), Metric("m", 2.0, T0, 0)]
        store.log_batch(run_id, batch, [], [])
        store.log_batch(run_id, batch, [], [])  # a client re-sending after a timeout
        store.log_metric(run_id, Metric("m", 1.0, T0, 0))
        assert _history(store, run_id, "m") == [(1.0, T0, 0), (2.0, T0, 0)]
        assert store.get_run(run_id).data.metrics["m"] == 2.0

    @requires("idempotent_metrics")
    def test_history_keeps_points_differing_in_one_field(self, store: TrackingStore, run_id: str) -> None:
        points = [
            Metric("m", 1.0, T0, 0),
            Metric("m", 1.0, T0 + 1, 0),
            Metric("m", 1.0, T0, 1),
            Metric("m", 1.5, T0, 0),
            Metric("m", math.nan, T0, 0),
            Metric("m", math.inf, T0, 0),
        ]
        store.log_batch(run_id, points, [], [])
        assert len(store.get_metric_history(run_id, "m")) == len(points)

    def test_history_only_holds_its_own_key(self, store: TrackingStore, run_id: str) -> None:
        store.log_batch(
            run_id, [Metric("a", 1.0, T0, 0), Metric("ab", 2.0, T0, 0), Metric("a.b", 3.0, T0, 0)], [], []
        )
        assert _history(store, run_id, "a") == [(1.0, T0, 0)]
        assert _history(store, run_id, "a.b") == [(3.0, T0, 0)]

    @pytest.mark.parametrize("page_size", [1, 3, 7, 10])
    def test_history_pages(self, store: TrackingStore, run_id: str, page_size: int) -> None:
        store.log_batch(run_id, [Metric("m", float(i), T0 + i, i) for i in range(7)], [], [])
        got = pages(
            lambda token: store.get_metric_history(run_id, "m", max_results=page_size, page_token=token)
        )
        assert all(len(page) <= page_size for page in got)
        seen = [m.value for page in got for m in page]
        assert seen == [float(i) for i in range(7)]

    def test_history_without_max_results_is_one_page(self, store: TrackingStore, run_id: str) -> None:
        store.log_batch(run_id, [Metric("m", float(i), T0, i) for i in range(1000)], [], [])
        store.log_batch(run_id, [Metric("m", float(i), T0, i) for i in range(1000, 1500)], [], [])
        history = store.get_metric_history(run_id, "m")
        assert len(history) == 1500 and not history.token

    def test_history_of_an_unlogged_key_is_empty(self, store: TrackingStore, run_id: str) -> None:
        assert list(store.get_metric_history(run_id, "never-logged")) == []

    def test_history_of_a_deleted_run_is_readable(self, store: TrackingStore, run_id: str) -> None:
        store.log_metric(run_id, Metric("m", 4.0, T0, 0))
        store.delete_run(run_id)
        assert _history(store, run_id, "m") == [(4.0, T0, 0)]

    def test_history_of_an_unknown_run(self, store: TrackingStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.get_metric_history(UNKNOWN_RUN_ID, "m")

    def test_history_with_a_bad_page_token_is_refused(self, store: TrackingStore, run_id: str) -> None:
        store.log_batch(run_id, [Metric("m", float(i), T0, i) for i in range(3)], [], [])
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.get_metric_history(run_id, "m", max_results=1, page_token="not a token")

    def test_bulk_history_names_each_run(self, store: TrackingStore, experiment_id: str) -> None:
        first = store.create_run(experiment_id, "u", T0, [], "a").info.run_id
        second = store.create_run(experiment_id, "u", T0, [], "b").info.run_id
        store.log_metric(first, Metric("m", 1.0, T0, 0))
        store.log_batch(second, [Metric("m", 2.0, T0, 0), Metric("m", 3.0, T0, 1)], [], [])
        bulk = store.get_metric_history_bulk([first, second], "m")
        assert sorted((m.run_id, m.value, m.step) for m in bulk) == sorted(
            [(first, 1.0, 0), (second, 2.0, 0), (second, 3.0, 1)]
        )
