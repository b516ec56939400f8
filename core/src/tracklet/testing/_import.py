"""Conformance tests for the copy primitives (capability ``import``): ``import_experiment``,
``import_run`` and ``import_metric_history`` as upserts to exactly what is given, and
``get_metric_histories`` (every store).

``tracklet migrate`` writes only through these calls and relies on two properties checked
here: what is read back equals what was imported (ids, times, stages, names, URIs verbatim),
and importing the same thing again changes nothing, so a copy killed half-way and started
again ends with nothing missing and nothing twice.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from tracklet.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunTag,
    ViewType,
)
from tracklet.stores import TrackingStore, refusals
from tracklet.testing._support import (
    T0,
    UNKNOWN_EXPERIMENT_ID,
    UNKNOWN_RUN_ID,
    lacks,
    raises_code,
    requires,
    run_state,
    says,
    store_state,
)

_RUN_NAME = "mlflow.runName"
_PARENT = "mlflow.parentRunId"


def _experiment(
    experiment_id: str = "17",
    name: str = "imported",
    stage: str = "active",
    tags: dict[str, str] | None = None,
    location: str = "s3://bucket/somewhere/17",
) -> Experiment:
    return Experiment(
        experiment_id,
        name,
        location,
        stage,
        tags={"team": "vision", "mlflow.note.content": "copied"} if tags is None else tags,
        creation_time=T0 - 5000,
        last_update_time=T0 + 7000,
    )


def _run(
    experiment_id: str,
    run_id: str | None = None,
    *,
    name: str = "imported-run",
    status: str = "FINISHED",
    end_time: int | None = T0 + 60_000,
    stage: str = "active",
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    inputs: list[DatasetInput] | None = None,
    artifact_uri: str | None = None,
    user_id: str = "alice",
) -> Run:
    run_id = run_id or uuid.uuid4().hex
    info = RunInfo(
        run_id=run_id,
        experiment_id=experiment_id,
        user_id=user_id,
        status=status,
        start_time=T0,
        end_time=end_time,
        lifecycle_stage=stage,
        artifact_uri=artifact_uri or f"s3://bucket/elsewhere/{run_id}/artifacts",
        run_name=name,
    )
    params = {"lr": "0.01", "layers": "3"} if params is None else params
    tags = {"mlflow.user": user_id, "mlflow.source.type": "LOCAL", **(tags or {})}
    tags.setdefault(_RUN_NAME, name)
    data = RunData(
        [],
        [Param(k, v) for k, v in params.items()],
        [RunTag(k, v) for k, v in tags.items()],
    )
    return Run(info, data, RunInputs(inputs or []))


def _dataset_input(name: str, digest: str, context: str = "training") -> DatasetInput:
    dataset = Dataset(
        name, digest, "local", f'{{"uri": "/data/{name}.csv"}}', schema='{"c": 1}', profile=None
    )
    return DatasetInput(dataset, [InputTag("mlflow.data.context", context)])


def _number(value: float) -> str:
    return repr(float(value))


def _points(metrics: list[Metric]) -> list[tuple[str, str, int, int]]:
    return [(m.key, _number(m.value), m.timestamp, m.step) for m in metrics]


def _history(store: TrackingStore, run_id: str, key: str) -> list[tuple[str, str, int, int]]:
    return _points(list(store.get_metric_history(run_id, key)))


def _experiment_view(experiment: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": experiment.experiment_id,
        "name": experiment.name,
        "artifact_location": experiment.artifact_location,
        "lifecycle_stage": experiment.lifecycle_stage,
        "creation_time": experiment.creation_time,
        "last_update_time": experiment.last_update_time,
        "tags": dict(experiment.tags),
    }


def _run_view(run: Run) -> dict[str, Any]:
    inputs = sorted(
        (
            d.dataset.name,
            d.dataset.digest,
            d.dataset.source_type,
            d.dataset.source,
            d.dataset.schema,
            tuple(sorted((t.key, t.value) for t in d.tags)),
        )
        for d in run.inputs.dataset_inputs
    )
    return {
        "info": run.info.to_dictionary(),
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
        "inputs": inputs,
    }


def _imported_experiment(store: TrackingStore, experiment_id: str = "17") -> str:
    store.import_experiment(_experiment(experiment_id, f"imported-{experiment_id}"))
    return experiment_id


class ImportExperimentTests:
    """import_experiment: an upsert with the given id, times, stage and tags."""

    @requires("import")
    def test_import_an_experiment_is_created_with_every_field_as_given(self, store: TrackingStore) -> None:
        given = _experiment()
        store.import_experiment(given)
        assert _experiment_view(store.get_experiment("17")) == _experiment_view(given)
        by_name = store.get_experiment_by_name("imported")
        assert by_name is not None and by_name.experiment_id == "17"

    @requires("import")
    def test_import_a_deleted_experiment_is_created_deleted(self, store: TrackingStore) -> None:
        given = _experiment("23", "gone", stage="deleted")
        store.import_experiment(given)
        assert _experiment_view(store.get_experiment("23")) == _experiment_view(given)
        active = [e.experiment_id for e in store.search_experiments(ViewType.ACTIVE_ONLY)]
        deleted = [e.experiment_id for e in store.search_experiments(ViewType.DELETED_ONLY)]
        assert "23" not in active and "23" in deleted

    @requires("import")
    def test_import_the_same_experiment_again_changes_nothing(self, store: TrackingStore) -> None:
        store.import_experiment(_experiment())
        before = (store_state(store), _experiment_view(store.get_experiment("17")))
        store.import_experiment(_experiment())
        assert (store_state(store), _experiment_view(store.get_experiment("17"))) == before

    @requires("import")
    def test_import_an_existing_experiment_is_overwritten(self, store: TrackingStore) -> None:
        store.import_experiment(_experiment(tags={"a": "1", "b": "2"}))
        changed = Experiment(
            "17",
            "renamed",
            "file:///elsewhere/17",
            "deleted",
            tags={"a": "3"},
            creation_time=T0 - 1,
            last_update_time=T0 + 1,
        )
        store.import_experiment(changed)
        got = _experiment_view(store.get_experiment("17"))
        # Tags given are set; tags not given are left (the contract's words).
        assert got == {**_experiment_view(changed), "tags": {"a": "3", "b": "2"}}

    @requires("import")
    def test_import_the_default_experiment_can_be_overwritten(self, store: TrackingStore) -> None:
        given = _experiment("0", "Default", location="file:///copied/0", tags={"k": "v"})
        store.import_experiment(given)
        assert _experiment_view(store.get_experiment("0")) == _experiment_view(given)

    @requires("import")
    def test_import_a_name_held_by_another_experiment_is_refused(
        self, store: TrackingStore, experiment_id: str
    ) -> None:
        before = store_state(store)
        with raises_code("RESOURCE_ALREADY_EXISTS") as excinfo:
            store.import_experiment(_experiment("555", "conformance"))
        assert says(excinfo, refusals.experiment_name_taken("conformance").message)
        assert store_state(store) == before

    @requires("import")
    def test_import_ids_created_after_an_import_do_not_collide(self, store: TrackingStore) -> None:
        for experiment_id in ("1", "2", "3", "42"):
            store.import_experiment(_experiment(experiment_id, f"imported-{experiment_id}"))
        new_ids = {store.create_experiment(f"new-{i}") for i in range(3)}
        assert len(new_ids) == 3 and not new_ids & {"0", "1", "2", "3", "42"}
        assert {e.experiment_id for e in store.search_experiments(ViewType.ALL)} == {
            "0",
            "1",
            "2",
            "3",
            "42",
        } | new_ids

    @requires("import")
    def test_import_an_invalid_lifecycle_stage_is_refused(self, store: TrackingStore) -> None:
        before = store_state(store)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.import_experiment(_experiment(stage="archived"))
        assert store_state(store) == before


class ImportRunTests:
    """import_run: an upsert with the given id, info fields verbatim, params, tags and
    inputs replaced."""

    @requires("import")
    def test_import_a_run_is_created_with_every_field_as_given(self, store: TrackingStore) -> None:
        experiment_id = _imported_experiment(store)
        given = _run(experiment_id)
        store.import_run(given)
        got = store.get_run(given.info.run_id)
        assert _run_view(got) == _run_view(given)
        assert got.data.metrics == {}

    @requires("import")
    def test_import_a_running_run_has_no_end_time(self, store: TrackingStore) -> None:
        experiment_id = _imported_experiment(store)
        given = _run(experiment_id, status="RUNNING", end_time=None)
        store.import_run(given)
        info = store.get_run(given.info.run_id).info
        assert (info.status, info.end_time) == ("RUNNING", None)

    @requires("import")
    def test_import_every_status_is_kept(self, store: TrackingStore) -> None:
        experiment_id = _imported_experiment(store)
        for status in ("SCHEDULED", "FAILED", "KILLED", "FINISHED"):
            given = _run(experiment_id, status=status)
            store.import_run(given)
            assert store.get_run(given.info.run_id).info.status == status

    @requires("import")
    def test_import_a_deleted_run_is_created_deleted(self, store: TrackingStore) -> None:
        experiment_id = _imported_experiment(store)
        given = _run(experiment_id, stage="deleted")
        store.import_run(given)
        run_id = given.info.run_id
        assert store.get_run(run_id).info.lifecycle_stage == "deleted"
        assert [r.info.run_id for r in store.search_runs([experiment_id], "", ViewType.ACTIVE_ONLY)] == []
        assert [r.info.run_id for r in store.search_runs([experiment_id], "", ViewType.DELETED_ONLY)] == [
            run_id
        ]

    @requires("import")
    def test_import_a_run_of_a_deleted_experiment_is_accepted(self, store: TrackingStore) -> None:
        store.import_experiment(_experiment("31", "gone", stage="deleted"))
        given = _run("31", stage="deleted")
        store.import_run(given)
        assert _run_view(store.get_run(given.info.run_id)) == _run_view(given)

    @requires("import")
    def test_import_the_same_run_again_changes_nothing(self, store: TrackingStore) -> None:
        experiment_id = _imported_experiment(store)
        given = _run(experiment_id)
        store.import_run(given)
        before = (store_state(store), run_state(store, given.info.run_id))
        store.import_run(given)
        assert (store_state(store), run_state(store, given.info.run_id)) == before

    @requires("import")
    def test_import_params_and_tags_are_replaced(self, store: TrackingStore) -> None:
        experiment_id = _imported_experiment(store)
        first = _run(experiment_id, params={"lr": "0.1", "gone": "x"}, tags={"t1": "a", "t2": "b"})
        store.import_run(first)
        second = _run(
            experiment_id,
            first.info.run_id,
            name="renamed",
            status="FAILED",
            params={"lr": "0.2", "new": "y"},
            tags={"t1": "c"},
            user_id="bob",
        )
        store.import_run(second)
        got = store.get_run(first.info.run_id)
        assert _run_view(got) == _run_view(second)
        assert got.data.params == {"lr": "0.2", "new": "y"}  # a param changed: no refusal on import
        assert "t2" not in got.data.tags and got.data.tags[_RUN_NAME] == "renamed"

    @requires("import", "datasets")
    def test_import_inputs_are_replaced(self, store: TrackingStore) -> None:
        experiment_id = _imported_experiment(store)
        first = _run(experiment_id, inputs=[_dataset_input("train", "aa"), _dataset_input("old", "bb")])
        store.import_run(first)
        assert _run_view(store.get_run(first.info.run_id)) == _run_view(first)
        second = _run(
            experiment_id,
            first.info.run_id,
            inputs=[_dataset_input("train", "aa"), _dataset_input("test", "cc", "evaluation")],
        )
        store.import_run(second)
        assert _run_view(store.get_run(first.info.run_id)) == _run_view(second)

    @requires("import")
    def test_import_a_nested_run_keeps_its_parent(self, store: TrackingStore) -> None:
        experiment_id = _imported_experiment(store)
        parent = _run(experiment_id, name="parent")
        child = _run(experiment_id, name="child", tags={_PARENT: parent.info.run_id})
        store.import_run(child)  # ids are kept, so a child may come first
        store.import_run(parent)
        found = store.search_runs([experiment_id], f"tags.`{_PARENT}` = '{parent.info.run_id}'", ViewType.ALL)
        assert [r.info.run_id for r in found] == [child.info.run_id]

    @requires("import")
    def test_import_the_artifact_uri_is_kept_verbatim(self, store: TrackingStore) -> None:
        experiment_id = _imported_experiment(store)
        given = _run(experiment_id, artifact_uri="mlflow-artifacts:/17/abc/artifacts")
        store.import_run(given)
        assert store.get_run(given.info.run_id).info.artifact_uri == "mlflow-artifacts:/17/abc/artifacts"

    @requires("import")
    def test_import_a_run_moves_to_the_experiment_given(self, store: TrackingStore) -> None:
        first = _imported_experiment(store, "17")
        second = _imported_experiment(store, "18")
        given = _run(first)
        store.import_run(given)
        moved = _run(second, given.info.run_id)
        store.import_run(moved)
        assert store.get_run(given.info.run_id).info.experiment_id == second
        assert list(store.search_runs([first], "", ViewType.ALL)) == []
        assert [r.info.run_id for r in store.search_runs([second], "", ViewType.ALL)] == [given.info.run_id]

    @requires("import")
    def test_import_an_imported_running_run_takes_ordinary_logging(self, store: TrackingStore) -> None:
        experiment_id = _imported_experiment(store)
        given = _run(experiment_id, status="RUNNING", end_time=None, params={"a": "1"})
        store.import_run(given)
        run_id = given.info.run_id
        store.log_batch(run_id, [Metric("loss", 0.5, T0, 1)], [Param("b", "2")], [RunTag("x", "y")])
        store.update_run_info(run_id, "FINISHED", T0 + 10, None)
        got = store.get_run(run_id)
        assert got.data.params == {"a": "1", "b": "2"} and got.data.tags["x"] == "y"
        assert got.data.metrics == {"loss": 0.5}
        assert (got.info.status, got.info.end_time) == ("FINISHED", T0 + 10)

    @requires("import")
    def test_import_an_unknown_experiment_is_refused(self, store: TrackingStore) -> None:
        before = store_state(store)
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.import_run(_run(UNKNOWN_EXPERIMENT_ID))
        assert store_state(store) == before


class ImportMetricHistoryTests:
    """import_metric_history: one history replaced by exactly the points given."""

    @requires("import")
    @lacks("idempotent_metrics")
    def test_import_the_history_is_exactly_the_points_given_repeats_included(
        self, store: TrackingStore
    ) -> None:
        run_id = self._imported_run(store)
        points = [
            Metric("loss", 1.0, T0, 0),
            Metric("loss", 1.0, T0, 0),  # a repeat in the source is kept
            Metric("loss", 0.5, T0 + 1, 1),
            Metric("loss", 0.25, T0 + 2, 2),
        ]
        store.import_metric_history(run_id, "loss", points)
        assert _history(store, run_id, "loss") == _points(points)
        assert store.get_run(run_id).data.metrics == {"loss": 0.25}

    @requires("import", "idempotent_metrics")
    def test_import_an_exact_repeat_is_stored_once_as_log_batch_stores_it(self, store: TrackingStore) -> None:
        # A store that keeps a point once however often it is logged (capability
        # idempotent_metrics, like MLflow's SQL schema whose key is the whole point) cannot
        # hold a source's exact repeats; every other point is kept, repeats of step or time
        # included.
        run_id = self._imported_run(store)
        points = [
            Metric("loss", 1.0, T0, 0),
            Metric("loss", 1.0, T0, 0),
            Metric("loss", 2.0, T0, 0),
            Metric("loss", 0.5, T0, 1),
        ]
        store.import_metric_history(run_id, "loss", points)
        assert sorted(_history(store, run_id, "loss")) == sorted(_points(points[1:]))
        assert store.get_run(run_id).data.metrics == {"loss": 0.5}

    @requires("import")
    def test_import_the_same_history_again_changes_nothing(self, store: TrackingStore) -> None:
        run_id = self._imported_run(store)
        points = [Metric("acc", 0.1 * i, T0 + i, i) for i in range(5)] + [Metric("acc", 0.45, T0 + 4, 4)]
        store.import_metric_history(run_id, "acc", points)
        before = run_state(store, run_id)
        store.import_metric_history(run_id, "acc", points)
        assert run_state(store, run_id) == before
        assert len(_history(store, run_id, "acc")) == 6

    @requires("import")
    def test_import_points_not_given_are_removed_and_the_latest_follows(self, store: TrackingStore) -> None:
        run_id = self._imported_run(store)
        store.import_metric_history(run_id, "m", [Metric("m", float(i), T0 + i, i) for i in range(10)])
        assert store.get_run(run_id).data.metrics == {"m": 9.0}
        fewer = [Metric("m", 7.0, T0, 0), Metric("m", 3.0, T0 + 1, 1)]
        store.import_metric_history(run_id, "m", fewer)
        assert _history(store, run_id, "m") == _points(fewer)
        assert store.get_run(run_id).data.metrics == {"m": 3.0}
        found = store.search_runs([store.get_run(run_id).info.experiment_id], "metrics.m = 3", ViewType.ALL)
        assert [r.info.run_id for r in found] == [run_id]

    @requires("import")
    def test_import_an_empty_history_removes_the_metric(self, store: TrackingStore) -> None:
        run_id = self._imported_run(store)
        store.import_metric_history(run_id, "m", [Metric("m", 1.0, T0, 0)])
        store.import_metric_history(run_id, "m", [])
        assert _history(store, run_id, "m") == []
        assert "m" not in store.get_run(run_id).data.metrics

    @requires("import")
    def test_import_other_metrics_are_left_alone(self, store: TrackingStore) -> None:
        run_id = self._imported_run(store)
        store.import_metric_history(run_id, "a", [Metric("a", 1.0, T0, 0), Metric("a", 2.0, T0, 1)])
        store.import_metric_history(run_id, "b", [Metric("b", 5.0, T0, 0)])
        store.import_metric_history(run_id, "b", [Metric("b", 6.0, T0, 0)])
        assert _history(store, run_id, "a") == [("a", "1.0", T0, 0), ("a", "2.0", T0, 1)]
        assert store.get_run(run_id).data.metrics == {"a": 2.0, "b": 6.0}

    @requires("import")
    def test_import_nan_and_infinities_read_back_as_logged_ones_do(self, store: TrackingStore) -> None:
        run_id = self._imported_run(store)
        values = [math.nan, math.inf, -math.inf, 0.0, 5e-324, -1.5]
        points = [Metric("v", value, T0 + i, i) for i, value in enumerate(values)]
        store.import_metric_history(run_id, "v", points)
        logged = store.create_run(store.get_run(run_id).info.experiment_id, "u", T0, [], "logged").info.run_id
        store.log_batch(logged, points, [], [])
        assert _history(store, run_id, "v") == _history(store, logged, "v")
        assert math.isnan(store.get_metric_history(run_id, "v")[0].value)
        assert _number(store.get_run(run_id).data.metrics["v"]) == _number(
            store.get_run(logged).data.metrics["v"]
        )

    @requires("import")
    def test_import_the_latest_value_is_the_largest_step_then_timestamp(self, store: TrackingStore) -> None:
        run_id = self._imported_run(store)
        points = [Metric("m", 1.0, T0 + 50, 3), Metric("m", 2.0, T0 + 10, 5), Metric("m", 3.0, T0 + 20, 5)]
        store.import_metric_history(run_id, "m", points)
        assert store.get_run(run_id).data.metrics == {"m": 3.0}

    @requires("import")
    def test_import_a_deleted_finished_run_accepts_a_history(self, store: TrackingStore) -> None:
        experiment_id = _imported_experiment(store)
        given = _run(experiment_id, stage="deleted", status="FINISHED")
        store.import_run(given)
        store.import_metric_history(given.info.run_id, "m", [Metric("m", 1.0, T0, 0)])
        assert _history(store, given.info.run_id, "m") == [("m", "1.0", T0, 0)]

    @requires("import")
    def test_import_an_unknown_run_is_refused(self, store: TrackingStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.import_metric_history(UNKNOWN_RUN_ID, "m", [Metric("m", 1.0, T0, 0)])

    @requires("import")
    def test_import_a_point_of_another_key_is_refused(self, store: TrackingStore) -> None:
        run_id = self._imported_run(store)
        before = run_state(store, run_id)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.import_metric_history(run_id, "m", [Metric("m", 1.0, T0, 0), Metric("other", 1.0, T0, 0)])
        assert run_state(store, run_id) == before

    @staticmethod
    def _imported_run(store: TrackingStore) -> str:
        experiment_id = _imported_experiment(store)
        given = _run(experiment_id)
        store.import_run(given)
        return given.info.run_id


class ImportRefusalTests:
    """Every store: get_metric_histories, and a clean refusal without the capability."""

    def test_import_get_metric_histories_equals_each_history(self, store: TrackingStore, run_id: str) -> None:
        store.log_batch(
            run_id,
            [Metric("a", 1.0, T0, 0), Metric("a", 2.0, T0 + 1, 1), Metric("b", math.nan, T0, 0)],
            [],
            [],
        )
        store.log_batch(run_id, [Metric("a", 3.0, T0 + 2, 2), Metric("c", -math.inf, T0, 7)], [], [])
        histories = store.get_metric_histories(run_id)
        assert sorted(histories) == ["a", "b", "c"]
        for key, points in histories.items():
            assert _points(points) == _history(store, run_id, key)

    def test_import_get_metric_histories_of_a_run_without_metrics_is_empty(
        self, store: TrackingStore, run_id: str
    ) -> None:
        assert store.get_metric_histories(run_id) == {}

    @lacks("import")
    def test_import_without_the_capability_import_says_so(self, store: TrackingStore, run_id: str) -> None:
        before = (store_state(store), run_state(store, run_id))
        experiment_id = store.get_run(run_id).info.experiment_id
        with raises_code("NOT_IMPLEMENTED"):
            store.import_experiment(_experiment())
        with raises_code("NOT_IMPLEMENTED"):
            store.import_run(_run(experiment_id))
        with raises_code("NOT_IMPLEMENTED"):
            store.import_metric_history(run_id, "m", [Metric("m", 1.0, T0, 0)])
        assert (store_state(store), run_state(store, run_id)) == before


class ImportTests(ImportExperimentTests, ImportRunTests, ImportMetricHistoryTests, ImportRefusalTests):
    """Every test of the copy primitives."""
