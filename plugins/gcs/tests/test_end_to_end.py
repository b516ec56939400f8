"""Runs whose artifacts live in GCS (the emulator), tracked in a file store and in sqlite:
the client API and the fluent API (``import tracklet as mlflow``), with the objects
checked where they land."""

from __future__ import annotations

import os
import pathlib
from typing import Any

import tracklet
import tracklet as mlflow
from tracklet.testing.objects import local_tree


def test_the_client_logs_lists_and_downloads_artifacts_in_gcs(
    tracking_uri: str, gcs_env: Any, new_bucket: str, gs: Any, object_names: Any, tmp_path: pathlib.Path
) -> None:
    client = tracklet.MlflowClient(tracking_uri)
    experiment_id = client.create_experiment("e", artifact_location=gs(new_bucket, "some/prefix"))
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    assert run.info.artifact_uri == gs(new_bucket, f"some/prefix/{run_id}/artifacts")
    (tmp_path / "model.json").write_text('{"layers": 2}')
    tree = tmp_path / "tree"
    (tree / "sub dir").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "empty").write_bytes(b"")
    (tree / "sub dir" / "b ü.bin").write_bytes(b"\x00b")

    client.log_artifact(run_id, str(tmp_path / "model.json"))
    client.log_artifacts(run_id, str(tree), "data")

    assert [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id)] == [
        ("data", True, None),
        ("model.json", False, 13),
    ]
    assert [(f.path, f.file_size) for f in client.list_artifacts(run_id, "data/sub dir")] == [
        ("data/sub dir/b ü.bin", 2)
    ]
    run_prefix = f"some/prefix/{run_id}/artifacts"
    assert object_names() == [
        f"{run_prefix}/data/a.txt",
        f"{run_prefix}/data/empty",
        f"{run_prefix}/data/sub dir/b ü.bin",
        f"{run_prefix}/model.json",
    ]
    got = client.download_artifacts(run_id, "data", str(tmp_path / "dl"))
    assert local_tree(got) == {"a.txt": b"a", "empty": b"", os.path.join("sub dir", "b ü.bin"): b"\x00b"}
    got = client.download_artifacts(run_id, "model.json", str(tmp_path / "dl2"))
    assert pathlib.Path(got).read_text() == '{"layers": 2}'


def test_the_fluent_api_logs_to_gcs(
    tracking_uri: str, gcs_env: Any, new_bucket: str, gs: Any, object_names: Any, tmp_path: pathlib.Path
) -> None:
    mlflow.set_tracking_uri(tracking_uri)
    experiment_id = mlflow.create_experiment("fluent", artifact_location=gs(new_bucket, "fluent"))
    mlflow.set_experiment("fluent")
    (tmp_path / "notes.txt").write_text("notes")
    with mlflow.start_run() as run:
        assert run.info.experiment_id == experiment_id
        mlflow.log_param("lr", 0.01)
        mlflow.log_artifact(str(tmp_path / "notes.txt"), "docs")
        mlflow.log_text("hello gcs", "docs/hello.txt")
        mlflow.log_dict({"layers": [64, 10]}, "config.json")
    run_id = run.info.run_id
    assert run.info.artifact_uri == gs(new_bucket, f"fluent/{run_id}/artifacts")
    assert object_names() == [
        f"fluent/{run_id}/artifacts/config.json",
        f"fluent/{run_id}/artifacts/docs/hello.txt",
        f"fluent/{run_id}/artifacts/docs/notes.txt",
    ]
    listed = [(f.path, f.is_dir) for f in mlflow.MlflowClient().list_artifacts(run_id)]
    assert listed == [("config.json", False), ("docs", True)]
    got = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="docs", dst_path=str(tmp_path / "dl")
    )
    assert local_tree(got) == {"hello.txt": b"hello gcs", "notes.txt": b"notes"}
    one = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="docs/hello.txt", dst_path=str(tmp_path / "dl1")
    )
    assert pathlib.Path(one).read_text() == "hello gcs"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/config.json") == {"layers": [64, 10]}
    assert mlflow.get_run(run_id).data.params == {"lr": "0.01"}
