"""Conformance tests for the life of a run: create, get, update, delete and restore."""

from __future__ import annotations

import re

import pytest

from tracklet.entities import LifecycleStage, Metric, Param, RunTag, ViewType
from tracklet.stores import TrackingStore
from tracklet.testing._support import (
    T0,
    UNKNOWN_EXPERIMENT_ID,
    UNKNOWN_RUN_ID,
    raises_code,
    run_state,
    says,
    store_state,
)

_RUN_NAME_TAG = "mlflow.runName"


class RunTests:
    """Runs as MLflow's stores keep them."""

    # -- create ----------------------------------------------------------------------------

    def test_create_run_returns_the_stored_run(self, store: TrackingStore, experiment_id: str) -> None:
        run = store.create_run(experiment_id, "alice", T0, [RunTag("t", "v")], "my-run")
        for seen in (run, store.get_run(run.info.run_id)):
            info = seen.info
            assert re.fullmatch("[0-9a-f]{32}", info.run_id), info.run_id
            assert info.experiment_id == experiment_id
            assert info.user_id == "alice"
            assert info.status == "RUNNING"
            assert info.start_time == T0
            assert info.end_time is None
            assert info.lifecycle_stage == LifecycleStage.ACTIVE
            assert info.run_name == "my-run"
            assert seen.data.tags == {"t": "v", _RUN_NAME_TAG: "my-run"}
            assert seen.data.metrics == {} and seen.data.params == {}
            assert seen.inputs.dataset_inputs == []

    def test_run_artifact_uri_is_under_its_experiment(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("located", artifact_location="s3://bucket/loc")
        run = store.create_run(experiment_id, "u", T0, [], None)
        assert run.info.artifact_uri == f"s3://bucket/loc/{run.info.run_id}/artifacts"

    def test_run_ids_are_unique(self, store: TrackingStore, experiment_id: str) -> None:
        ids = {store.create_run(experiment_id, "u", T0, [], None).info.run_id for _ in range(5)}
        assert len(ids) == 5

    def test_run_name_comes_from_the_tag(self, store: TrackingStore, experiment_id: str) -> None:
        run = store.create_run(experiment_id, "u", T0, [RunTag(_RUN_NAME_TAG, "from-tag")], None)
        assert run.info.run_name == "from-tag"
        assert store.get_run(run.info.run_id).data.tags[_RUN_NAME_TAG] == "from-tag"

    def test_missing_run_name_is_generated(self, store: TrackingStore, experiment_id: str) -> None:
        run = store.get_run(store.create_run(experiment_id, "u", T0, [], None).info.run_id)
        assert isinstance(run.info.run_name, str) and run.info.run_name
        assert run.data.tags[_RUN_NAME_TAG] == run.info.run_name

    def test_run_name_and_tag_that_disagree_are_refused(
        self, store: TrackingStore, experiment_id: str
    ) -> None:
        before = store_state(store)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.create_run(experiment_id, "u", T0, [RunTag(_RUN_NAME_TAG, "x")], "y")
        assert store_state(store) == before

    @pytest.mark.parametrize(
        ("key", "value"),
        [("a!b", "v"), ("../up", "v"), ("long", "v" * 8001)],
        ids=["bad-character", "dot-dot", "value-too-long"],
    )
    def test_invalid_tag_refuses_the_run(
        self, store: TrackingStore, experiment_id: str, key: str, value: str
    ) -> None:
        before = store_state(store)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.create_run(experiment_id, "u", T0, [RunTag("fine", "1"), RunTag(key, value)], None)
        assert store_state(store) == before

    def test_create_run_in_a_deleted_experiment_is_refused(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("deleted-home")
        store.delete_experiment(experiment_id)
        before = store_state(store)
        with raises_code("INVALID_STATE") as refused:
            store.create_run(experiment_id, "u", T0, [], None)
        assert says(refused, f"Could not create run under non-active experiment with ID {experiment_id}.")
        assert store_state(store) == before

    def test_create_run_in_an_unknown_experiment(self, store: TrackingStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.create_run(UNKNOWN_EXPERIMENT_ID, "u", T0, [], None)

    # -- get -------------------------------------------------------------------------------

    def test_get_unknown_run(self, store: TrackingStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.get_run(UNKNOWN_RUN_ID)

    @pytest.mark.parametrize("bad_id", ["../etc", "a/b", ""], ids=["dot-dot", "slash", "empty"])
    def test_malformed_run_id_is_refused(self, store: TrackingStore, bad_id: str) -> None:
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.get_run(bad_id)

    # -- update ----------------------------------------------------------------------------

    def test_update_run_info(self, store: TrackingStore, run_id: str) -> None:
        info = store.update_run_info(run_id, "FINISHED", T0 + 5000, None)
        assert (info.run_id, info.status, info.end_time) == (run_id, "FINISHED", T0 + 5000)
        stored = store.get_run(run_id).info
        assert (stored.status, stored.end_time, stored.run_name) == ("FINISHED", T0 + 5000, "the-run")

    def test_update_run_info_with_none_leaves_fields_alone(self, store: TrackingStore, run_id: str) -> None:
        store.update_run_info(run_id, "FAILED", T0 + 1, "renamed")
        info = store.update_run_info(run_id, None, None, None)
        assert (info.status, info.end_time, info.run_name) == ("FAILED", T0 + 1, "renamed")
        stored = store.get_run(run_id)
        assert (stored.info.status, stored.info.end_time, stored.info.run_name) == (
            "FAILED",
            T0 + 1,
            "renamed",
        )

    @pytest.mark.parametrize("status", ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"])
    def test_every_run_status_is_accepted(self, store: TrackingStore, run_id: str, status: str) -> None:
        store.update_run_info(run_id, status, None, None)
        assert store.get_run(run_id).info.status == status

    def test_renaming_a_run_updates_the_run_name_tag(self, store: TrackingStore, run_id: str) -> None:
        info = store.update_run_info(run_id, None, None, "second-name")
        assert info.run_name == "second-name"
        run = store.get_run(run_id)
        assert run.info.run_name == "second-name"
        assert run.data.tags[_RUN_NAME_TAG] == "second-name"

    def test_setting_the_run_name_tag_renames_the_run(self, store: TrackingStore, run_id: str) -> None:
        store.set_tag(run_id, RunTag(_RUN_NAME_TAG, "via-tag"))
        run = store.get_run(run_id)
        assert run.info.run_name == "via-tag" and run.data.tags[_RUN_NAME_TAG] == "via-tag"

    def test_update_with_unknown_status_is_refused(self, store: TrackingStore, run_id: str) -> None:
        before = run_state(store, run_id)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.update_run_info(run_id, "DONE-ISH", T0 + 1, "other")
        assert run_state(store, run_id) == before

    def test_update_unknown_run(self, store: TrackingStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.update_run_info(UNKNOWN_RUN_ID, "FINISHED", T0, None)

    # -- delete and restore ----------------------------------------------------------------

    def test_delete_and_restore_run(self, store: TrackingStore, experiment_id: str, run_id: str) -> None:
        store.log_batch(run_id, [Metric("m", 1.0, T0, 0)], [Param("p", "1")], [RunTag("t", "1")])
        before = run_state(store, run_id)
        store.delete_run(run_id)
        deleted = store.get_run(run_id)  # a deleted run can still be read
        assert deleted.info.lifecycle_stage == LifecycleStage.DELETED
        assert _run_ids(store, experiment_id, ViewType.ACTIVE_ONLY) == []
        assert _run_ids(store, experiment_id, ViewType.DELETED_ONLY) == [run_id]
        assert _run_ids(store, experiment_id, ViewType.ALL) == [run_id]
        store.restore_run(run_id)
        assert run_state(store, run_id) == before
        assert _run_ids(store, experiment_id, ViewType.ACTIVE_ONLY) == [run_id]
        assert _run_ids(store, experiment_id, ViewType.DELETED_ONLY) == []

    def test_delete_and_restore_are_idempotent(self, store: TrackingStore, run_id: str) -> None:
        store.restore_run(run_id)
        assert store.get_run(run_id).info.lifecycle_stage == LifecycleStage.ACTIVE
        store.delete_run(run_id)
        store.delete_run(run_id)
        assert store.get_run(run_id).info.lifecycle_stage == LifecycleStage.DELETED

    def test_delete_or_restore_unknown_run(self, store: TrackingStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.delete_run(UNKNOWN_RUN_ID)
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.restore_run(UNKNOWN_RUN_ID)

    def test_runs_follow_their_experiment_into_deletion_and_back(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("with-runs")
        run_id = store.create_run(experiment_id, "u", T0, [], "r").info.run_id
        store.delete_experiment(experiment_id)
        assert store.get_run(run_id).info.lifecycle_stage == LifecycleStage.DELETED
        assert _run_ids(store, experiment_id, ViewType.ACTIVE_ONLY) == []
        assert _run_ids(store, experiment_id, ViewType.DELETED_ONLY) == [run_id]
        assert _run_ids(store, experiment_id, ViewType.ALL) == [run_id]
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.log_metric(run_id, Metric("m", 1.0, T0, 0))
        store.restore_experiment(experiment_id)
        assert store.get_run(run_id).info.lifecycle_stage == LifecycleStage.ACTIVE
        assert _run_ids(store, experiment_id, ViewType.ACTIVE_ONLY) == [run_id]


def _run_ids(store: TrackingStore, experiment_id: str, view_type: int) -> list[str]:
    return [r.info.run_id for r in store.search_runs([experiment_id], "", view_type)]
