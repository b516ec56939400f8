"""Conformance tests for dataset inputs (capability ``datasets``): log_inputs, what
get_run returns, de-duplication, validation and search on ``datasets.*``."""

from __future__ import annotations

from tracklet.entities import Dataset, DatasetInput, InputTag, ViewType
from tracklet.stores import TrackingStore
from tracklet.testing._support import (
    T0,
    UNKNOWN_EXPERIMENT_ID,
    UNKNOWN_RUN_ID,
    lacks,
    raises_code,
    requires,
    run_state,
)

_CONTEXT = "mlflow.data.context"


def _dataset(name: str = "wine", digest: str = "d1e5c0de", **extra: str) -> Dataset:
    return Dataset(name, digest, "local", '{"uri": "/data/wine.csv"}', **extra)


def _input(dataset: Dataset, context: str | None = "training") -> DatasetInput:
    return DatasetInput(dataset, [InputTag(_CONTEXT, context)] if context else [])


def _inputs(store: TrackingStore, run_id: str) -> list[tuple[str, str, dict[str, str]]]:
    found = [
        (d.dataset.name, d.dataset.digest, {t.key: t.value for t in d.tags})
        for d in store.get_run(run_id).inputs.dataset_inputs
    ]
    return sorted(found, key=lambda entry: (entry[0], entry[1]))


class DatasetTests:
    """log_inputs and run inputs."""

    @requires("datasets")
    def test_log_inputs_records_the_dataset(self, store: TrackingStore, run_id: str) -> None:
        dataset = _dataset(schema='{"cols": ["a"]}', profile='{"rows": 3}')
        store.log_inputs(run_id, [_input(dataset)])
        (recorded,) = store.get_run(run_id).inputs.dataset_inputs
        assert recorded.dataset.name == "wine" and recorded.dataset.digest == "d1e5c0de"
        assert recorded.dataset.source_type == "local"
        assert recorded.dataset.source == '{"uri": "/data/wine.csv"}'
        assert recorded.dataset.schema == '{"cols": ["a"]}'
        assert recorded.dataset.profile == '{"rows": 3}'
        assert [(t.key, t.value) for t in recorded.tags] == [(_CONTEXT, "training")]

    @requires("datasets")
    def test_several_datasets_in_one_call(self, store: TrackingStore, run_id: str) -> None:
        store.log_inputs(
            run_id, [_input(_dataset("train", "aa")), _input(_dataset("test", "bb"), "evaluation")]
        )
        assert _inputs(store, run_id) == [
            ("test", "bb", {_CONTEXT: "evaluation"}),
            ("train", "aa", {_CONTEXT: "training"}),
        ]

    @requires("datasets")
    def test_logging_the_same_dataset_again_adds_nothing(self, store: TrackingStore, run_id: str) -> None:
        store.log_inputs(run_id, [_input(_dataset())])
        store.log_inputs(run_id, [_input(_dataset())])
        store.log_inputs(run_id, [_input(_dataset(), "evaluation")])
        assert [(name, digest) for name, digest, _ in _inputs(store, run_id)] == [("wine", "d1e5c0de")]

    @requires("datasets")
    def test_a_new_digest_is_a_new_dataset(self, store: TrackingStore, run_id: str) -> None:
        store.log_inputs(run_id, [_input(_dataset(digest="v1"))])
        store.log_inputs(run_id, [_input(_dataset(digest="v2"))])
        assert [digest for _, digest, _ in _inputs(store, run_id)] == ["v1", "v2"]

    @requires("datasets")
    def test_runs_can_share_a_dataset(self, store: TrackingStore, experiment_id: str) -> None:
        first = store.create_run(experiment_id, "u", T0, [], "a").info.run_id
        second = store.create_run(experiment_id, "u", T0, [], "b").info.run_id
        store.log_inputs(first, [_input(_dataset())])
        store.log_inputs(second, [_input(_dataset(), "evaluation")])
        assert _inputs(store, first) == [("wine", "d1e5c0de", {_CONTEXT: "training"})]
        assert _inputs(store, second) == [("wine", "d1e5c0de", {_CONTEXT: "evaluation"})]

    @requires("datasets")
    def test_nothing_to_log_is_fine(self, store: TrackingStore, run_id: str) -> None:
        store.log_inputs(run_id, [])
        store.log_inputs(run_id, None)
        assert store.get_run(run_id).inputs.dataset_inputs == []

    @requires("datasets")
    def test_invalid_dataset_refuses_the_call(self, store: TrackingStore, run_id: str) -> None:
        store.log_inputs(run_id, [_input(_dataset("kept", "k"))])
        before = run_state(store, run_id)
        for bad in (_dataset("n" * 501), _dataset(digest="d" * 37)):
            with raises_code("INVALID_PARAMETER_VALUE"):
                store.log_inputs(run_id, [_input(_dataset("fine", "f")), _input(bad)])
            assert run_state(store, run_id) == before

    @requires("datasets")
    def test_log_inputs_to_a_deleted_run_is_refused(self, store: TrackingStore, run_id: str) -> None:
        store.delete_run(run_id)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.log_inputs(run_id, [_input(_dataset())])
        assert store.get_run(run_id).inputs.dataset_inputs == []

    @requires("datasets")
    def test_log_inputs_to_an_unknown_run(self, store: TrackingStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.log_inputs(UNKNOWN_RUN_ID, [_input(_dataset())])

    @requires("datasets")
    def test_search_on_datasets(self, store: TrackingStore, experiment_id: str) -> None:
        runs = {
            name: store.create_run(experiment_id, "u", T0, [], name).info.run_id for name in ("a", "b", "c")
        }
        store.log_inputs(runs["a"], [_input(_dataset("wine", "w1"))])
        store.log_inputs(runs["b"], [_input(_dataset("iris", "i1"), "evaluation")])

        def found(filter_string: str) -> set[str]:
            return {
                r.info.run_name or "" for r in store.search_runs([experiment_id], filter_string, ViewType.ALL)
            }

        assert found("datasets.name = 'wine'") == {"a"}
        assert found("datasets.digest IN ('w1', 'i1')") == {"a", "b"}
        assert found("datasets.context = 'evaluation'") == {"b"}
        assert found("datasets.name LIKE '%i%'") == {"a", "b"}

    @requires("datasets")
    def test_search_datasets_summarises_each_use_once(self, store: TrackingStore, experiment_id: str) -> None:
        other = store.create_experiment("other-datasets")
        first = store.create_run(experiment_id, "u", T0, [], "a").info.run_id
        second = store.create_run(experiment_id, "u", T0, [], "b").info.run_id
        elsewhere = store.create_run(other, "u", T0, [], "c").info.run_id
        store.log_inputs(first, [_input(_dataset("wine", "w1")), _input(_dataset("iris", "i1"), None)])
        store.log_inputs(second, [_input(_dataset("wine", "w1"), "eval")])
        store.log_inputs(elsewhere, [_input(_dataset("wine", "w2"))])
        store.delete_run(second)  # a deleted run's datasets still count, as in MLflow

        def summaries(ids: list[str]) -> set[tuple[str, str, str, str | None]]:
            found = store.search_datasets(ids)
            assert len(found) == len(set(found)), "each summary once"
            return {(d.experiment_id, d.name, d.digest, d.context) for d in found}

        assert summaries([experiment_id]) == {
            (experiment_id, "wine", "w1", "training"),
            (experiment_id, "wine", "w1", "eval"),
            (experiment_id, "iris", "i1", None),
        }
        assert summaries([experiment_id, other]) == summaries([experiment_id]) | {
            (other, "wine", "w2", "training")
        }
        assert summaries([UNKNOWN_EXPERIMENT_ID]) == set()
        assert summaries([]) == set()

    @lacks("datasets")
    def test_without_the_capability_log_inputs_says_so(self, store: TrackingStore, run_id: str) -> None:
        before = run_state(store, run_id)
        with raises_code("FEATURE_DISABLED"):
            store.log_inputs(run_id, [_input(_dataset())])
        assert run_state(store, run_id) == before
