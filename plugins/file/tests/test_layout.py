"""The folder FileStore writes is MLflow's ``mlruns`` layout, byte for byte where it matters."""

from __future__ import annotations

import os
import pathlib
import shutil
import time

import pytest
import yaml

from tracklet.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from tracklet.exceptions import TrackletException
from tracklet_file._fsio import RACY_NS
from tracklet_file.artifacts import LocalArtifactRepository
from tracklet_file.store import FileStore


def _yaml(*parts: str) -> dict:
    with open(os.path.join(*parts), encoding="utf-8") as f:
        return yaml.safe_load(f)


def _text(*parts: str) -> str:
    with open(os.path.join(*parts), encoding="utf-8") as f:
        return f.read()


def test_new_folder_gets_default_experiment_and_trash(store: FileStore, root: str) -> None:
    meta = _yaml(root, "0", "meta.yaml")
    assert meta["experiment_id"] == "0"
    assert meta["name"] == "Default"
    assert meta["lifecycle_stage"] == "active"
    assert meta["artifact_location"] == os.path.join(root, "0")
    assert os.path.isdir(os.path.join(root, ".trash"))


def test_file_uri_keeps_artifact_locations_as_file_uris(tmp_path) -> None:
    uri = (tmp_path / "runs").as_uri()
    store = FileStore(uri)
    assert store.get_experiment("0").artifact_location == uri + "/0"
    assert os.path.isfile(tmp_path / "runs" / "0" / "meta.yaml")


def test_existing_nonempty_folder_is_not_given_a_default_experiment(tmp_path) -> None:
    (tmp_path / "5").mkdir()
    FileStore(str(tmp_path))
    assert not (tmp_path / "0").exists()


def test_experiment_meta_and_tags(store: FileStore, root: str) -> None:
    exp_id = store.create_experiment("exp", tags=[RunTag("team/owner", "me")])
    assert exp_id == "1"
    meta = _yaml(root, exp_id, "meta.yaml")
    assert meta["experiment_id"] == "1" and meta["name"] == "exp"
    assert isinstance(meta["creation_time"], int) and meta["last_update_time"] == meta["creation_time"]
    assert _text(root, exp_id, "tags", "team", "owner") == "me"
    assert store.create_experiment("second") == "2"


def test_run_meta_fields(store: FileStore, root: str) -> None:
    run = store.create_run("0", "alice", 1234, [RunTag("k", "v")], "my-run")
    run_dir = os.path.join(root, "0", run.info.run_id)
    meta = _yaml(run_dir, "meta.yaml")
    assert meta["run_id"] == run.info.run_id and len(run.info.run_id) == 32
    assert meta["experiment_id"] == "0"
    assert meta["status"] == 1  # RUNNING, stored as a number
    assert meta["start_time"] == 1234 and meta["end_time"] is None
    assert meta["user_id"] == "alice" and meta["run_name"] == "my-run"
    assert meta["lifecycle_stage"] == "active"
    assert meta["artifact_uri"] == os.path.join(run_dir, "artifacts")
    assert meta["source_type"] == 4 and meta["tags"] == []
    for folder in ("metrics", "params", "tags", "artifacts"):
        assert os.path.isdir(os.path.join(run_dir, folder))
    assert _text(run_dir, "tags", "mlflow.runName") == "my-run"
    assert _text(run_dir, "tags", "k") == "v"


def test_metric_param_tag_files(store: FileStore, root: str) -> None:
    run_id = store.create_run("0", "u", 0, [], None).info.run_id
    store.log_batch(
        run_id,
        [
            Metric("loss/train", 0.5, 10, 1),
            Metric("loss/train", float("nan"), 11, 2),
            Metric("up", float("inf"), 12, 0),
            Metric("down", float("-inf"), 13, 0),
            Metric("i", 3, 14, 5),
        ],
        [Param("lr/base", "0.1"), Param("multi", "a\nb")],
        [RunTag("note", "x y")],
    )
    run_dir = os.path.join(root, "0", run_id)
    assert _text(run_dir, "metrics", "loss", "train") == "10 0.5 1\n11 nan 2\n"
    assert _text(run_dir, "metrics", "up") == "12 inf 0\n"
    assert _text(run_dir, "metrics", "down") == "13 -inf 0\n"
    assert _text(run_dir, "metrics", "i") == "14 3.0 5\n"
    assert _text(run_dir, "params", "lr", "base") == "0.1"  # no trailing newline
    assert _text(run_dir, "params", "multi") == "a\nb"
    assert _text(run_dir, "tags", "note") == "x y"


def test_deleted_run_is_marked_in_place(store: FileStore, root: str) -> None:
    run_id = store.create_run("0", "u", 0, [], None).info.run_id
    store.delete_run(run_id)
    meta = _yaml(root, "0", run_id, "meta.yaml")
    assert meta["lifecycle_stage"] == "deleted" and isinstance(meta["deleted_time"], int)
    store.restore_run(run_id)
    meta = _yaml(root, "0", run_id, "meta.yaml")
    assert meta["lifecycle_stage"] == "active" and meta["deleted_time"] is None


def test_deleted_experiment_moves_to_trash_with_its_runs_marked(store: FileStore, root: str) -> None:
    exp_id = store.create_experiment("gone")
    run_id = store.create_run(exp_id, "u", 0, [], None).info.run_id
    store.delete_experiment(exp_id)
    assert not os.path.exists(os.path.join(root, exp_id))
    assert _yaml(root, ".trash", exp_id, "meta.yaml")["lifecycle_stage"] == "deleted"
    assert _yaml(root, ".trash", exp_id, run_id, "meta.yaml")["lifecycle_stage"] == "deleted"
    store.restore_experiment(exp_id)
    assert _yaml(root, exp_id, "meta.yaml")["lifecycle_stage"] == "active"
    assert _yaml(root, exp_id, run_id, "meta.yaml")["lifecycle_stage"] == "active"


def test_dataset_inputs_layout(store: FileStore, root: str) -> None:
    run_id = store.create_run("0", "u", 0, [], None).info.run_id
    dataset = Dataset("iris", "abc123", "local", '{"uri": "/data"}', '{"cols": []}', None)
    store.log_inputs(run_id, [DatasetInput(dataset, [InputTag("mlflow.data.context", "train")])])
    datasets = os.listdir(os.path.join(root, "0", "datasets"))
    assert len(datasets) == 1 and len(datasets[0]) == 32
    ds_meta = _yaml(root, "0", "datasets", datasets[0], "meta.yaml")
    assert ds_meta == {
        "name": "iris",
        "digest": "abc123",
        "source_type": "local",
        "source": '{"uri": "/data"}',
        "schema": '{"cols": []}',
        "profile": None,
    }
    inputs = os.listdir(os.path.join(root, "0", run_id, "inputs"))
    edge = _yaml(root, "0", run_id, "inputs", inputs[0], "meta.yaml")
    assert edge["source_type"] == "DATASET" and edge["source_id"] == datasets[0]
    assert edge["destination_type"] == "RUN"
    assert edge["tags"] == {"mlflow.data.context": "train"}


def test_no_temporary_files_left_behind(store: FileStore, root: str) -> None:
    run_id = store.create_run("0", "u", 0, [RunTag("a", "b")], None).info.run_id
    store.log_batch(run_id, [Metric("m", 1.0, 1, 1)], [Param("p", "1")], [RunTag("t", "1")])
    store.update_run_info(run_id, "FINISHED", 5, None)
    store.set_experiment_tag("0", RunTag("e", "1"))
    leftovers = [
        os.path.join(d, f) for d, dirs, files in os.walk(root) for f in files + dirs if f.startswith(".tmp-")
    ]
    assert leftovers == []


# -- reading folders as MLflow 3.17 reads them ------------------------------------------------


def test_five_field_metric_lines_read_with_step_zero_as_mlflow_does(store: FileStore, root: str) -> None:
    # MLflow writes "<ts> <value> <step> <dataset> <digest>" for a metric computed on a
    # dataset, and its reader takes step 0 from such lines; tracklet shows the same.
    run_id = store.create_run("0", "u", 0, [], "r").info.run_id
    with open(os.path.join(root, "0", run_id, "metrics", "acc"), "w") as f:
        f.write("10 0.5 7 iris d1g3st\n11 0.25 8 iris d1g3st\n")
    assert [(m.timestamp, m.value, m.step) for m in store.get_metric_history(run_id, "acc")] == [
        (10, 0.5, 0),
        (11, 0.25, 0),
    ]
    assert store.get_run(run_id).data.metrics == {"acc": 0.25}  # latest by (step, timestamp)


def test_mixed_two_and_five_field_lines_are_not_misread_as_columns(store: FileStore, root: str) -> None:
    # One five-field and two two-field lines have as many fields and spaces as three
    # three-field lines: the column reader must not take them for that.
    run_id = store.create_run("0", "u", 0, [], "r").info.run_id
    with open(os.path.join(root, "0", run_id, "metrics", "m"), "w") as f:
        f.write("1 1.5 9 iris d1g3st\n2 2.5\n3 3.5\n")
    points = store.get_metric_history(run_id, "m")
    assert [(m.timestamp, m.value, m.step) for m in points] == [(1, 1.5, 0), (2, 2.5, 0), (3, 3.5, 0)]


def test_run_missing_a_run_folder_is_listed_but_not_found_by_id(store: FileStore, root: str) -> None:
    # MLflow finds a run by id only where metrics/, params/ and artifacts/ all exist.
    run_id = store.create_run("0", "u", 0, [], "r").info.run_id
    shutil.rmtree(os.path.join(root, "0", run_id, "artifacts"))
    fresh = FileStore(root)
    with pytest.raises(TrackletException) as caught:
        fresh.get_run(run_id)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert [r.info.run_id for r in fresh.search_runs(["0"])] == [run_id]
    fresh.close()


def test_inputs_come_back_in_the_folder_listing_order(store: FileStore, root: str) -> None:
    run_id = store.create_run("0", "u", 0, [], "r").info.run_id
    datasets = [Dataset(f"d{i}", f"digest{i}", "local", "{}", None, None) for i in range(6)]
    store.log_inputs(run_id, [DatasetInput(d, []) for d in datasets])
    names = {d.name: d for d in datasets}
    inputs_dir = os.path.join(root, "0", run_id, "inputs")
    listed = [_yaml(inputs_dir, n, "meta.yaml")["source_id"] for n in os.listdir(inputs_dir)]
    by_id = {_yaml(root, "0", "datasets", i, "meta.yaml")["name"]: i for i in listed}
    got = [d.dataset.name for d in store.get_run(run_id).inputs.dataset_inputs]
    assert sorted(got) == sorted(names) and [by_id[n] for n in got] == listed


def test_downloading_a_missing_artifact_root_gives_the_empty_destination(tmp_path: pathlib.Path) -> None:
    # A run of a deleted experiment: its artifact_uri names where the folder was before
    # the experiment moved to .trash. MLflow answers the (empty) destination.
    repo = LocalArtifactRepository(str(tmp_path / "gone"))
    dst = tmp_path / "dst"
    dst.mkdir()
    assert repo.list_artifacts() == []
    assert repo.download_artifacts("", str(dst)) == str(dst) and list(dst.iterdir()) == []
    with pytest.raises(TrackletException) as caught:
        repo.download_artifacts("file.txt", str(dst))  # a named artifact still has to exist
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_empty_artifact_uri_is_refused_rather_than_the_current_folder() -> None:
    with pytest.raises(TrackletException, match="artifact location is required") as caught:
        LocalArtifactRepository("")
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


def test_search_after_get_run_filters_on_the_new_values(store: FileStore) -> None:
    # get_run rebuilt the run's cached parts after a change; the search's cached snapshot
    # must still be rebuilt from them (it once kept filtering on the old values).
    # The pauses let file times settle (RACY_NS), so the caches trust their stats, as in a
    # long-running process; without them every read re-checks everything.
    settle = 3 * RACY_NS / 1e9
    run_id = store.create_run("0", "u", 0, [], "r").info.run_id
    store.log_metric(run_id, Metric("m", 1.0, 1, 0))
    time.sleep(settle)
    assert store.search_runs(["0"], "metrics.m > 1").to_list() == []
    store.log_metric(run_id, Metric("m", 5.0, 2, 1))
    time.sleep(settle)
    assert store.get_run(run_id).data.metrics == {"m": 5.0}
    assert [r.info.run_id for r in store.search_runs(["0"], "metrics.m > 1")] == [run_id]
