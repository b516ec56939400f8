"""Conformance tests for experiments: the Default experiment, create, get, delete,
restore, rename and tags, with MLflow's error codes."""

from __future__ import annotations

from typing import Any

import pytest

from tracklet.entities import LifecycleStage, RunTag, ViewType
from tracklet.stores import TrackingStore
from tracklet.testing._support import UNKNOWN_EXPERIMENT_ID, raises_code, says, store_state

_BAD_NAMES: list[Any] = ["", "x" * 501, None, 123]


class ExperimentTests:
    """Experiments as MLflow's stores keep them."""

    # -- the Default experiment ----------------------------------------------------------

    def test_default_experiment_exists(self, store: TrackingStore) -> None:
        default = store.get_experiment("0")
        assert default.experiment_id == "0"
        assert default.name == "Default"
        assert default.lifecycle_stage == LifecycleStage.ACTIVE
        assert isinstance(default.artifact_location, str) and default.artifact_location

    def test_default_experiment_is_found_by_name_and_listed(self, store: TrackingStore) -> None:
        found = store.get_experiment_by_name("Default")
        assert found is not None and found.experiment_id == "0"
        assert "0" in [e.experiment_id for e in store.search_experiments()]

    # -- create and get ------------------------------------------------------------------

    def test_create_experiment_stores_name_tags_and_times(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("exp-a", tags=[RunTag("team", "vision")])
        assert isinstance(experiment_id, str) and experiment_id != "0"
        experiment = store.get_experiment(experiment_id)
        assert experiment.experiment_id == experiment_id
        assert experiment.name == "exp-a"
        assert experiment.lifecycle_stage == LifecycleStage.ACTIVE
        assert experiment.tags == {"team": "vision"}
        assert isinstance(experiment.creation_time, int)
        assert isinstance(experiment.last_update_time, int)
        assert isinstance(experiment.artifact_location, str) and experiment.artifact_location

    def test_create_experiment_keeps_the_given_artifact_location(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("exp-loc", artifact_location="s3://bucket/some/where")
        assert store.get_experiment(experiment_id).artifact_location == "s3://bucket/some/where"

    def test_experiment_ids_are_unique(self, store: TrackingStore) -> None:
        ids = [store.create_experiment(f"exp-{i}") for i in range(5)]
        assert len(set(ids)) == 5 and "0" not in ids

    def test_duplicate_name_is_refused(self, store: TrackingStore) -> None:
        store.create_experiment("taken")
        before = store_state(store)
        with raises_code("RESOURCE_ALREADY_EXISTS"):
            store.create_experiment("taken")
        assert store_state(store) == before

    def test_name_of_a_deleted_experiment_stays_taken(self, store: TrackingStore) -> None:
        store.delete_experiment(store.create_experiment("gone"))
        before = store_state(store)
        with raises_code("RESOURCE_ALREADY_EXISTS"):
            store.create_experiment("gone")
        assert store_state(store) == before

    @pytest.mark.parametrize("name", _BAD_NAMES, ids=["empty", "too-long", "none", "not-a-string"])
    def test_invalid_experiment_name_is_refused(self, store: TrackingStore, name: Any) -> None:
        before = store_state(store)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.create_experiment(name)
        assert store_state(store) == before

    def test_name_of_500_characters_is_accepted(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("n" * 500)
        assert store.get_experiment(experiment_id).name == "n" * 500

    def test_invalid_tag_refuses_the_whole_experiment(self, store: TrackingStore) -> None:
        before = store_state(store)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.create_experiment("bad-tag", tags=[RunTag("ok", "1"), RunTag("a!b", "v")])
        assert store_state(store) == before
        assert store.get_experiment_by_name("bad-tag") is None

    def test_get_unknown_experiment(self, store: TrackingStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST") as refused:
            store.get_experiment(UNKNOWN_EXPERIMENT_ID)
        assert says(refused, f"No Experiment with id={UNKNOWN_EXPERIMENT_ID} exists")

    def test_get_experiment_by_name(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("by-name")
        found = store.get_experiment_by_name("by-name")
        assert found is not None and found.experiment_id == experiment_id
        assert store.get_experiment_by_name("no such experiment") is None

    def test_get_experiment_by_name_finds_deleted_experiments(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("deleted-by-name")
        store.delete_experiment(experiment_id)
        found = store.get_experiment_by_name("deleted-by-name")
        assert found is not None and found.experiment_id == experiment_id
        assert found.lifecycle_stage == LifecycleStage.DELETED

    # -- delete and restore ----------------------------------------------------------------

    def test_delete_and_restore_experiment(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("cycle")
        store.delete_experiment(experiment_id)
        assert store.get_experiment(experiment_id).lifecycle_stage == LifecycleStage.DELETED
        assert experiment_id not in _ids(store, ViewType.ACTIVE_ONLY)
        assert experiment_id in _ids(store, ViewType.DELETED_ONLY)
        assert experiment_id in _ids(store, ViewType.ALL)
        store.restore_experiment(experiment_id)
        restored = store.get_experiment(experiment_id)
        assert restored.lifecycle_stage == LifecycleStage.ACTIVE and restored.name == "cycle"
        assert experiment_id in _ids(store, ViewType.ACTIVE_ONLY)
        assert experiment_id not in _ids(store, ViewType.DELETED_ONLY)

    def test_deleting_a_deleted_experiment_is_refused(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("twice")
        store.delete_experiment(experiment_id)
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.delete_experiment(experiment_id)
        assert store.get_experiment(experiment_id).lifecycle_stage == LifecycleStage.DELETED

    def test_restoring_an_active_experiment_is_refused(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("active")
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.restore_experiment(experiment_id)
        assert store.get_experiment(experiment_id).lifecycle_stage == LifecycleStage.ACTIVE

    def test_delete_or_restore_unknown_experiment(self, store: TrackingStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.delete_experiment(UNKNOWN_EXPERIMENT_ID)
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.restore_experiment(UNKNOWN_EXPERIMENT_ID)

    # -- rename ----------------------------------------------------------------------------

    def test_rename_experiment(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("old-name")
        store.rename_experiment(experiment_id, "new-name")
        assert store.get_experiment(experiment_id).name == "new-name"
        renamed = store.get_experiment_by_name("new-name")
        assert renamed is not None and renamed.experiment_id == experiment_id
        assert store.get_experiment_by_name("old-name") is None
        assert store.create_experiment("old-name") != experiment_id  # the old name is free again

    @pytest.mark.parametrize("deleted", [False, True], ids=["active", "deleted"])
    def test_rename_to_a_taken_name_is_refused(self, store: TrackingStore, deleted: bool) -> None:
        other = store.create_experiment("other")
        if deleted:
            store.delete_experiment(other)
        experiment_id = store.create_experiment("mine")
        before = store_state(store)
        with raises_code("RESOURCE_ALREADY_EXISTS"):
            store.rename_experiment(experiment_id, "other")
        assert store_state(store) == before

    def test_rename_deleted_experiment_is_refused(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("deleted-rename")
        store.delete_experiment(experiment_id)
        with raises_code("INVALID_STATE") as refused:
            store.rename_experiment(experiment_id, "whatever")
        assert says(refused, "Cannot rename a non-active experiment.")
        assert store.get_experiment(experiment_id).name == "deleted-rename"

    def test_rename_unknown_experiment(self, store: TrackingStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.rename_experiment(UNKNOWN_EXPERIMENT_ID, "whatever")

    @pytest.mark.parametrize("name", _BAD_NAMES, ids=["empty", "too-long", "none", "not-a-string"])
    def test_rename_to_an_invalid_name_is_refused(self, store: TrackingStore, name: Any) -> None:
        experiment_id = store.create_experiment("valid")
        before = store_state(store)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.rename_experiment(experiment_id, name)
        assert store_state(store) == before

    # -- tags ------------------------------------------------------------------------------

    def test_set_experiment_tag_adds_and_overwrites(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("tagged", tags=[RunTag("keep", "me")])
        store.set_experiment_tag(experiment_id, RunTag("k", "v1"))
        store.set_experiment_tag(experiment_id, RunTag("k", "v2"))
        store.set_experiment_tag(experiment_id, RunTag("empty", ""))
        assert store.get_experiment(experiment_id).tags == {"keep": "me", "k": "v2", "empty": ""}

    def test_experiment_tag_value_of_20000_characters_is_accepted(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("long-tag")
        store.set_experiment_tag(experiment_id, RunTag("long", "v" * 20000))
        assert store.get_experiment(experiment_id).tags["long"] == "v" * 20000

    @pytest.mark.parametrize(
        ("key", "value"),
        [("a!b", "v"), ("../up", "v"), ("", "v"), ("k" * 251, "v"), ("long", "v" * 20001)],
        ids=["bad-character", "dot-dot", "empty-key", "key-too-long", "value-too-long"],
    )
    def test_invalid_experiment_tag_is_refused(self, store: TrackingStore, key: str, value: str) -> None:
        experiment_id = store.create_experiment("tag-rules", tags=[RunTag("kept", "1")])
        before = store_state(store)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.set_experiment_tag(experiment_id, RunTag(key, value))
        assert store_state(store) == before

    def test_set_tag_on_deleted_experiment_is_refused(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("deleted-tags")
        store.delete_experiment(experiment_id)
        with raises_code("INVALID_PARAMETER_VALUE") as refused:
            store.set_experiment_tag(experiment_id, RunTag("k", "v"))
        assert says(refused, _NOT_ACTIVE.format(experiment_id))
        assert store.get_experiment(experiment_id).tags == {}

    def test_set_tag_on_unknown_experiment(self, store: TrackingStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.set_experiment_tag(UNKNOWN_EXPERIMENT_ID, RunTag("k", "v"))

    # -- delete_experiment_tag ---------------------------------------------------------------

    def test_delete_experiment_tag_removes_only_that_tag(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("untag", tags=[RunTag("a", "1"), RunTag("b/c", "2")])
        store.delete_experiment_tag(experiment_id, "a")
        assert store.get_experiment(experiment_id).tags == {"b/c": "2"}
        store.delete_experiment_tag(experiment_id, "b/c")
        assert store.get_experiment(experiment_id).tags == {}
        store.set_experiment_tag(experiment_id, RunTag("a", "again"))
        assert store.get_experiment(experiment_id).tags == {"a": "again"}

    def test_delete_missing_experiment_tag_is_refused(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("untag-missing", tags=[RunTag("kept", "1")])
        with raises_code("RESOURCE_DOES_NOT_EXIST") as refused:
            store.delete_experiment_tag(experiment_id, "never-set")
        # MLflow's message, word for word, on every store
        assert says(refused, f"No tag with name: never-set in experiment with id {experiment_id}")
        assert store.get_experiment(experiment_id).tags == {"kept": "1"}

    def test_delete_tag_of_deleted_experiment_is_refused(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("untag-deleted", tags=[RunTag("kept", "1")])
        store.delete_experiment(experiment_id)
        with raises_code("INVALID_PARAMETER_VALUE") as refused:
            store.delete_experiment_tag(experiment_id, "kept")
        assert says(refused, _NOT_ACTIVE.format(experiment_id))
        assert store.get_experiment(experiment_id).tags == {"kept": "1"}

    def test_delete_tag_of_unknown_experiment(self, store: TrackingStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.delete_experiment_tag(UNKNOWN_EXPERIMENT_ID, "k")


#: MLflow's words for a change to a deleted experiment (``INVALID_PARAMETER_VALUE``).
_NOT_ACTIVE = "The experiment {} must be in the 'active' state. Current state is deleted."


def _ids(store: TrackingStore, view_type: int) -> list[str]:
    return [e.experiment_id for e in store.search_experiments(view_type)]
