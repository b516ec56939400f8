"""The file registry in a folder the tracking file store also uses, and its crash safety.

The tracking store (tracklet-file, reached through the core's plugin lookup) must not take
``mlruns/models`` for an experiment nor ``mlruns/<exp>/models`` for a run; the registry
must not take half-written or half-deleted folders for models.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tracklet.entities import LoggedModelOutput, LoggedModelStatus, RunTag, ViewType
from tracklet.entities.model_registry import ModelVersionTag, RegisteredModelTag
from tracklet.exceptions import RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.plugins import get_registry_store, get_tracking_store
from tracklet_registry.file import FileRegistryStore


def test_plain_paths_and_file_uris_get_the_file_registry_store(mlruns: Path) -> None:
    assert isinstance(get_registry_store(str(mlruns)), FileRegistryStore)
    assert isinstance(get_registry_store(mlruns.as_uri()), FileRegistryStore)
    assert get_registry_store(mlruns.as_uri()).root_directory == str(mlruns)


def test_tracking_store_ignores_registry_and_logged_model_folders(mlruns: Path) -> None:
    tracking = get_tracking_store(str(mlruns))
    exp_id = tracking.create_experiment("exp")
    run = tracking.create_run(exp_id, "u", 0, [RunTag("k", "v")], "r")
    registry = FileRegistryStore(str(mlruns))
    registry.create_registered_model("m", [RegisteredModelTag("a", "1")])
    registry.create_model_version("m", "s3://b/m", run_id=run.info.run_id)
    model = registry.create_logged_model(exp_id, name="lm", source_run_id=run.info.run_id)
    registry.log_outputs(run.info.run_id, [LoggedModelOutput(model.model_id, 0)])
    assert (mlruns / "models" / "m" / "meta.yaml").is_file()
    assert (mlruns / exp_id / "models" / model.model_id / "meta.yaml").is_file()

    fresh = get_tracking_store(mlruns.as_uri())  # another URI spelling: not the cached store
    names = sorted(e.name for e in fresh.search_experiments(view_type=ViewType.ALL))
    assert names == ["Default", "exp"]
    runs = fresh.search_runs([exp_id], "", ViewType.ALL)
    assert [r.info.run_id for r in runs] == [run.info.run_id]
    assert fresh.get_run(run.info.run_id).data.tags["k"] == "v"
    # and the registry still reads back what it wrote
    assert registry.get_logged_model(model.model_id).name == "lm"
    assert registry.get_model_version("m", "1").run_id == run.info.run_id


def test_logged_model_artifact_location_follows_the_experiment(mlruns: Path) -> None:
    tracking = get_tracking_store(str(mlruns))
    exp_id = tracking.create_experiment("exp", artifact_location="s3://bucket/root")
    registry = FileRegistryStore(str(mlruns))
    model = registry.create_logged_model(exp_id)
    assert model.artifact_location == f"s3://bucket/root/models/{model.model_id}/artifacts"
    assert model.status == LoggedModelStatus.PENDING
    assert model.model_id.startswith("m-") and len(model.model_id) == 34


def test_meta_files_hold_mlflows_keys(file_registry_store: FileRegistryStore, mlruns: Path) -> None:
    file_registry_store.create_registered_model("m", description="d")
    file_registry_store.create_model_version("m", "s3://b/1", tags=[ModelVersionTag("x", "y")])
    file_registry_store.set_registered_model_alias("m", "champ", "1")
    model_meta = yaml.safe_load((mlruns / "models" / "m" / "meta.yaml").read_text())
    assert model_meta == {
        "aliases": {"champ": "1"},
        "creation_timestamp": model_meta["creation_timestamp"],
        "deployment_job_id": None,
        "deployment_job_state": None,
        "description": "d",
        "last_updated_timestamp": model_meta["last_updated_timestamp"],
        "name": "m",
        "workspace": "default",
    }
    version_meta = yaml.safe_load((mlruns / "models" / "m" / "version-1" / "meta.yaml").read_text())
    assert version_meta["version"] == 1
    assert version_meta["current_stage"] == "None"
    assert version_meta["storage_location"] == "s3://b/1"
    assert version_meta["status"] == "READY"
    assert (mlruns / "models" / "m" / "version-1" / "tags" / "x").read_text() == "y"
    assert (mlruns / "models" / "m" / "aliases" / "champ").read_text() == "1"


def test_deleted_version_stays_on_disk_and_its_number_is_not_reused(
    file_registry_store: FileRegistryStore, mlruns: Path
) -> None:
    store = file_registry_store
    store.create_registered_model("m")
    store.create_model_version("m", "s3://b/1")
    store.create_model_version("m", "s3://b/2")
    store.set_registered_model_alias("m", "a", "2")
    store.delete_model_version("m", "2")
    meta = yaml.safe_load((mlruns / "models" / "m" / "version-2" / "meta.yaml").read_text())
    assert meta["current_stage"] == "Deleted_Internal"
    assert not (mlruns / "models" / "m" / "aliases" / "a").exists()
    assert str(store.create_model_version("m", "s3://b/3").version) == "3"


def test_half_written_model_folder_is_not_a_model_and_is_reclaimed(
    file_registry_store: FileRegistryStore, mlruns: Path
) -> None:
    # what a crash between creating the folder and writing meta.yaml (or in the middle of
    # a delete) leaves
    leftover = mlruns / "models" / "m" / "version-1"
    leftover.mkdir(parents=True)
    (leftover / "meta.yaml").write_text("name: m\nversion: 1\ncurrent_stage: None\n")
    with pytest.raises(TrackletException) as info:
        file_registry_store.get_registered_model("m")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    file_registry_store.create_registered_model("m")
    assert file_registry_store.get_registered_model("m").latest_versions == []
    assert str(file_registry_store.create_model_version("m", "s3://b").version) == "1"


def test_unfinished_version_folder_is_invisible(file_registry_store: FileRegistryStore, mlruns: Path) -> None:
    file_registry_store.create_registered_model("m")
    staging = mlruns / "models" / "m" / ".tmp-version-1-123-abc"
    staging.mkdir()
    (staging / "meta.yaml").write_text("name: m\nversion: 1\ncurrent_stage: None\n")
    assert file_registry_store.get_registered_model("m").latest_versions == []
    with pytest.raises(TrackletException) as info:
        file_registry_store.get_model_version("m", "1")
    assert info.value.error_code == RESOURCE_DOES_NOT_EXIST


def test_renamed_model_keeps_tags_aliases_and_versions(
    file_registry_store: FileRegistryStore, mlruns: Path
) -> None:
    store = file_registry_store
    store.create_registered_model("old", [RegisteredModelTag("t", "v")])
    store.create_model_version("old", "s3://b/1", tags=[ModelVersionTag("x", "y")])
    store.set_registered_model_alias("old", "champ", "1")
    renamed = store.rename_registered_model("old", "new")
    assert renamed.name == "new"
    assert renamed.tags == {"t": "v"} and renamed.aliases == {"champ": "1"}
    version = store.get_model_version("new", "1")
    assert version.name == "new" and version.tags == {"x": "y"} and version.aliases == ["champ"]
    assert not (mlruns / "models" / "old").exists()
    meta = yaml.safe_load((mlruns / "models" / "new" / "version-1" / "meta.yaml").read_text())
    assert meta["name"] == "new"


def test_keys_cannot_leave_their_folder(file_registry_store: FileRegistryStore, mlruns: Path) -> None:
    file_registry_store.create_registered_model("m")
    with pytest.raises(TrackletException):
        file_registry_store.set_registered_model_tag("m", RegisteredModelTag("../../escape", "x"))
    assert not os.path.exists(mlruns / "escape")


def test_logged_model_folder_without_meta_is_invisible(mlruns: Path) -> None:
    tracking = get_tracking_store(str(mlruns))
    exp_id = tracking.create_experiment("exp")
    store = FileRegistryStore(str(mlruns))
    kept = store.create_logged_model(exp_id, name="kept")
    # what a crash between publishing the folder and writing its meta.yaml leaves
    (mlruns / exp_id / "models" / "m-0123456789abcdef0123456789abcdef" / "params").mkdir(parents=True)
    assert [m.model_id for m in store.search_logged_models([exp_id])] == [kept.model_id]
    with pytest.raises(TrackletException) as info:
        store.get_logged_model("m-0123456789abcdef0123456789abcdef")
    assert info.value.error_code == RESOURCE_DOES_NOT_EXIST
    assert not [p for p in (mlruns / exp_id / "models").iterdir() if p.name.startswith(".tmp-")]


def test_searches_by_name_read_only_the_named_models(
    file_registry_store: FileRegistryStore, mlruns: Path
) -> None:
    store = file_registry_store
    for name in ("a", "b", "c"):
        store.create_registered_model(name)
        store.create_model_version(name, f"s3://bucket/{name}")
    # a folder that is no model (and would break a full scan of its meta.yaml) stays unread
    (mlruns / "models" / "broken").mkdir()
    (mlruns / "models" / "broken" / "meta.yaml").write_text(": not yaml : [")
    versions = store.search_model_versions("name = 'a' OR name IN ('c', 'zz', '../0')")
    assert sorted(v.name for v in versions) == ["a", "c"]
    models = store.search_registered_models("name = 'b' AND tags.x != 'y'")
    assert [m.name for m in models] == []
    assert [m.name for m in store.search_registered_models("name = 'b'")] == ["b"]
    assert store.search_model_versions("name = '../0'") == []
