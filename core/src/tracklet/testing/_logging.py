"""Conformance tests for logging to a run: log_batch and its one-item conveniences,
param immutability, tags, key and value rules, batch limits, deleted and unknown runs.

Every refused call is checked twice: the error code, and that ``get_run`` (with every
metric history) shows exactly what it showed before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tracklet.entities import Metric, Param, RunTag
from tracklet.stores import TrackingStore
from tracklet.testing._support import T0, UNKNOWN_RUN_ID, raises_code, run_state, says

_GOOD_KEYS = ["a b:c/d-e.f_g", "k" * 250, "nested/deeper/key", "UPPER.lower"]
_BAD_KEYS = ["", "a!b", "semi;colon", "../up", "a/../b", "/leading", "trailing/", "a//b", ".", "k" * 251]
_BAD_KEY_IDS = [
    "empty",
    "bang",
    "semicolon",
    "dot-dot",
    "inner-dot-dot",
    "leading-slash",
    "trailing-slash",
    "double-slash",
    "dot",
    "too-long",
]


def _metric(key: str = "m", value: Any = 1.0, timestamp: Any = T0, step: Any = 0) -> Metric:
    return Metric(key, value, timestamp, step)


def _seed(store: TrackingStore, run_id: str) -> None:
    """Give a run one of everything, so refused calls have something to leave alone."""
    store.log_batch(run_id, [_metric("seed", 1.0)], [Param("lr", "0.1")], [RunTag("team", "a")])


class LoggingTests:
    """log_batch and the values it accepts."""

    # -- what gets stored --------------------------------------------------------------------

    def test_log_batch_stores_metrics_params_and_tags(self, store: TrackingStore, run_id: str) -> None:
        store.log_batch(
            run_id,
            [_metric("loss", 0.5, T0, 0), _metric("loss", 0.25, T0 + 1, 1), _metric("acc", 0.9)],
            [Param("lr", "0.01"), Param("layers", "3")],
            [RunTag("team", "vision"), RunTag("empty", "")],
        )
        data = store.get_run(run_id).data
        assert data.metrics == {"loss": 0.25, "acc": 0.9}
        assert data.params == {"lr": "0.01", "layers": "3"}
        assert {k: v for k, v in data.tags.items() if not k.startswith("mlflow.")} == {
            "team": "vision",
            "empty": "",
        }
        assert [m.value for m in store.get_metric_history(run_id, "loss")] == [0.5, 0.25]

    def test_one_item_conveniences(self, store: TrackingStore, run_id: str) -> None:
        store.log_metric(run_id, _metric("m", 3.0))
        store.log_param(run_id, Param("p", "x"))
        store.set_tag(run_id, RunTag("t", "y"))
        data = store.get_run(run_id).data
        assert (data.metrics["m"], data.params["p"], data.tags["t"]) == (3.0, "x", "y")

    def test_empty_batch_changes_nothing(self, store: TrackingStore, run_id: str) -> None:
        _seed(store, run_id)
        before = run_state(store, run_id)
        store.log_batch(run_id, [], [], [])
        assert run_state(store, run_id) == before

    def test_tags_can_be_overwritten(self, store: TrackingStore, run_id: str) -> None:
        store.set_tag(run_id, RunTag("t", "1"))
        store.log_batch(run_id, [], [], [RunTag("t", "2")])
        assert store.get_run(run_id).data.tags["t"] == "2"

    @pytest.mark.parametrize("key", _GOOD_KEYS, ids=["punctuation", "250-chars", "nested", "dots"])
    def test_valid_keys_are_accepted(self, store: TrackingStore, run_id: str, key: str) -> None:
        store.log_batch(run_id, [_metric(key, 1.5)], [Param(key, "p")], [RunTag(key, "t")])
        data = store.get_run(run_id).data
        assert (data.metrics[key], data.params[key], data.tags[key]) == (1.5, "p", "t")

    def test_values_at_the_length_limits_are_accepted(self, store: TrackingStore, run_id: str) -> None:
        store.log_batch(run_id, [], [Param("p", "p" * 6000)], [RunTag("t", "t" * 8000)])
        data = store.get_run(run_id).data
        assert data.params["p"] == "p" * 6000 and data.tags["t"] == "t" * 8000

    def test_unicode_values_round_trip(self, store: TrackingStore, run_id: str) -> None:
        store.log_batch(run_id, [], [Param("p", "café ☕ 数据")], [RunTag("t", "línea\nsiguiente")])
        data = store.get_run(run_id).data
        assert data.params["p"] == "café ☕ 数据" and data.tags["t"] == "línea\nsiguiente"

    def test_batch_of_exactly_the_limits_is_accepted(self, store: TrackingStore, run_id: str) -> None:
        store.log_batch(
            run_id,
            [_metric("m", float(i), T0, i) for i in range(800)],
            [Param(f"p{i}", "v") for i in range(100)],
            [RunTag(f"t{i}", "v") for i in range(100)],
        )
        run = store.get_run(run_id)
        assert len(run.data.params) == 100
        assert len([k for k in run.data.tags if k.startswith("t")]) == 100
        assert len(store.get_metric_history(run_id, "m")) == 800

    # -- params are immutable ------------------------------------------------------------------

    def test_logging_a_param_again_with_the_same_value_is_fine(
        self, store: TrackingStore, run_id: str
    ) -> None:
        store.log_param(run_id, Param("lr", "0.1"))
        store.log_param(run_id, Param("lr", "0.1"))
        store.log_batch(run_id, [], [Param("lr", "0.1")], [])
        assert store.get_run(run_id).data.params == {"lr": "0.1"}

    def test_changing_a_param_is_refused(self, store: TrackingStore, run_id: str) -> None:
        _seed(store, run_id)
        before = run_state(store, run_id)
        with raises_code("INVALID_PARAMETER_VALUE") as refused:
            store.log_param(run_id, Param("lr", "0.2"))
        assert says(
            refused,
            "Changing param values is not allowed. Param with key='lr' was already logged with "
            f"value='0.1' for run ID='{run_id}'. Attempted logging new value '0.2'.",
        )
        assert run_state(store, run_id) == before

    def test_changing_a_param_refuses_the_whole_batch(self, store: TrackingStore, run_id: str) -> None:
        _seed(store, run_id)
        before = run_state(store, run_id)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.log_batch(
                run_id,
                [_metric("new-metric", 1.0)],
                [Param("new-param", "1"), Param("lr", "0.2")],
                [RunTag("new-tag", "1")],
            )
        assert run_state(store, run_id) == before

    def test_one_key_with_two_values_in_a_batch_is_refused(self, store: TrackingStore, run_id: str) -> None:
        _seed(store, run_id)
        before = run_state(store, run_id)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.log_batch(run_id, [], [Param("dup", "1"), Param("dup", "2")], [])
        assert run_state(store, run_id) == before

    # -- refused input changes nothing -------------------------------------------------------------

    def test_one_bad_metric_refuses_the_whole_batch(self, store: TrackingStore, run_id: str) -> None:
        _seed(store, run_id)
        before = run_state(store, run_id)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.log_batch(
                run_id,
                [_metric("good", 1.0), _metric("bad", "not a number")],
                [Param("p2", "1")],
                [RunTag("t2", "1")],
            )
        assert run_state(store, run_id) == before

    @pytest.mark.parametrize("key", _BAD_KEYS, ids=_BAD_KEY_IDS)
    @pytest.mark.parametrize("kind", ["metric", "param", "tag"])
    def test_invalid_key_is_refused(self, store: TrackingStore, run_id: str, kind: str, key: str) -> None:
        _seed(store, run_id)
        before = run_state(store, run_id)
        with raises_code("INVALID_PARAMETER_VALUE"):
            _log_one(store, run_id, kind, key)
        assert run_state(store, run_id) == before

    @pytest.mark.parametrize(
        "metric",
        [
            _metric(value="1.0"),
            _metric(value=None),
            _metric(value=True),
            _metric(value=1j),
            _metric(timestamp=None),
            _metric(timestamp=-1),
            _metric(timestamp=1.5),
            _metric(step=None),
            _metric(step=1.5),
        ],
        ids=[
            "string-value",
            "none-value",
            "bool-value",
            "complex-value",
            "none-timestamp",
            "negative-timestamp",
            "float-timestamp",
            "none-step",
            "float-step",
        ],
    )
    def test_invalid_metric_is_refused(self, store: TrackingStore, run_id: str, metric: Metric) -> None:
        _seed(store, run_id)
        before = run_state(store, run_id)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.log_batch(run_id, [_metric("fine", 2.0), metric], [], [])
        assert run_state(store, run_id) == before

    @pytest.mark.parametrize(
        ("params", "tags"),
        [([Param("p", "v" * 6001)], []), ([], [RunTag("t", "v" * 8001)])],
        ids=["param-over-6000", "tag-over-8000"],
    )
    def test_values_over_the_length_limits_are_refused(
        self, store: TrackingStore, run_id: str, params: list[Param], tags: list[RunTag]
    ) -> None:
        _seed(store, run_id)
        before = run_state(store, run_id)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.log_batch(run_id, [_metric("fine", 2.0)], params, tags)
        assert run_state(store, run_id) == before

    @pytest.mark.parametrize(
        ("n_metrics", "n_params", "n_tags"),
        [(1001, 0, 0), (0, 101, 0), (0, 0, 101), (900, 100, 1)],
        ids=["1001-metrics", "101-params", "101-tags", "1001-entities"],
    )
    def test_batch_over_the_limits_is_refused(
        self, store: TrackingStore, run_id: str, n_metrics: int, n_params: int, n_tags: int
    ) -> None:
        _seed(store, run_id)
        before = run_state(store, run_id)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.log_batch(
                run_id,
                [_metric("many", 1.0, T0, i) for i in range(n_metrics)],
                [Param(f"many{i}", "v") for i in range(n_params)],
                [RunTag(f"many{i}", "v") for i in range(n_tags)],
            )
        assert run_state(store, run_id) == before

    # -- delete_tag --------------------------------------------------------------------------------

    def test_delete_tag(self, store: TrackingStore, run_id: str) -> None:
        store.set_tag(run_id, RunTag("gone", "1"))
        store.set_tag(run_id, RunTag("kept", "2"))
        store.delete_tag(run_id, "gone")
        tags = store.get_run(run_id).data.tags
        assert "gone" not in tags and tags["kept"] == "2"

    def test_delete_missing_tag(self, store: TrackingStore, run_id: str) -> None:
        _seed(store, run_id)
        before = run_state(store, run_id)
        with raises_code("RESOURCE_DOES_NOT_EXIST") as refused:
            store.delete_tag(run_id, "never-set")
        assert says(refused, f"No tag with name: never-set in run with id {run_id}")
        assert run_state(store, run_id) == before

    # -- deleted and unknown runs ----------------------------------------------------------------

    @pytest.mark.parametrize(
        "write", ["log_metric", "log_param", "set_tag", "log_batch", "delete_tag", "update"]
    )
    def test_writes_to_a_deleted_run_are_refused(self, store: TrackingStore, run_id: str, write: str) -> None:
        _seed(store, run_id)
        store.delete_run(run_id)
        before = run_state(store, run_id)
        with raises_code("INVALID_PARAMETER_VALUE") as refused:
            _WRITES[write](store, run_id)
        # MLflow's code and words, the same on every store
        assert says(refused, f"The run {run_id} must be in the 'active' state. Current state is deleted.")
        assert run_state(store, run_id) == before

    @pytest.mark.parametrize(
        "write", ["log_metric", "log_param", "set_tag", "log_batch", "delete_tag", "update"]
    )
    def test_writes_to_an_unknown_run(self, store: TrackingStore, write: str) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST") as refused:
            _WRITES[write](store, UNKNOWN_RUN_ID)
        assert says(refused, f"Run with id={UNKNOWN_RUN_ID} not found")


def _log_one(store: TrackingStore, run_id: str, kind: str, key: str) -> None:
    if kind == "metric":
        store.log_batch(run_id, [_metric("fine", 2.0), _metric(key)], [], [])
    elif kind == "param":
        store.log_batch(run_id, [_metric("fine", 2.0)], [Param(key, "v")], [])
    else:
        store.log_batch(run_id, [_metric("fine", 2.0)], [], [RunTag(key, "v")])


_WRITES: dict[str, Callable[[TrackingStore, str], object]] = {
    "log_metric": lambda s, r: s.log_metric(r, _metric("w", 1.0)),
    "log_param": lambda s, r: s.log_param(r, Param("w", "1")),
    "set_tag": lambda s, r: s.set_tag(r, RunTag("w", "1")),
    "log_batch": lambda s, r: s.log_batch(r, [_metric("w", 1.0)], [Param("w", "1")], [RunTag("w", "1")]),
    "delete_tag": lambda s, r: s.delete_tag(r, "team"),
    "update": lambda s, r: s.update_run_info(r, "FINISHED", T0 + 1, "renamed"),
}
