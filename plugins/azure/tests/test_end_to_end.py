"""Runs whose artifacts live in Azure (Azurite), tracked in a file store and in sqlite:
the client API and the fluent API, with the blobs checked where they land."""

from __future__ import annotations

import os
import pathlib
from typing import Any

import tracklet
from tracklet.testing.objects import local_tree


def test_the_client_logs_lists_and_downloads_artifacts_in_azure(
    tracking_uri: str, azure_env: Any, new_container: str, wasbs: Any, blob_names: Any, tmp_path: pathlib.Path
) -> None:
    client = tracklet.MlflowClient(tracking_uri)
    experiment_id = client.create_experiment("e", artifact_location=wasbs(new_container, "some/prefix"))
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    assert run.info.artifact_uri.startswith(wasbs(new_container, "some/prefix/"))
    (tmp_path / "model.json").write_text('{"layers": 2}')
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "sub" / "b.bin").write_bytes(b"\x00b")

    client.log_artifact(run_id, str(tmp_path / "model.json"))
    client.log_artifacts(run_id, str(tree), "data")

    assert [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id)] == [
        ("data", True, None),
        ("model.json", False, 13),
    ]
    assert [(f.path, f.file_size) for f in client.list_artifacts(run_id, "data/sub")] == [
        ("data/sub/b.bin", 2)
    ]
    run_prefix = run.info.artifact_uri.split(".blob.core.windows.net/", 1)[1]
    assert blob_names(new_container) == [
        f"{run_prefix}/data/a.txt",
        f"{run_prefix}/data/sub/b.bin",
        f"{run_prefix}/model.json",
    ]
    got = client.download_artifacts(run_id, "data", str(tmp_path / "dl"))
    assert local_tree(got) == {"a.txt": b"a", os.path.join("sub", "b.bin"): b"\x00b"}
    got = client.download_artifacts(run_id, "model.json", str(tmp_path / "dl2"))
    assert pathlib.Path(got).read_text() == '{"layers": 2}'


def test_the_fluent_api_logs_to_azure(
    tracking_uri: str, azure_env: Any, new_container: str, wasbs: Any, blob_names: Any, tmp_path: pathlib.Path
) -> None:
    tracklet.set_tracking_uri(tracking_uri)
    tracklet.MlflowClient().create_experiment("fluent", artifact_location=wasbs(new_container, "fluent"))
    tracklet.set_experiment("fluent")
    (tmp_path / "notes.txt").write_text("notes")
    with tracklet.start_run() as run:
        tracklet.log_artifact(str(tmp_path / "notes.txt"), "docs")
        tracklet.log_text("hello azure", "docs/hello.txt")
    run_id = run.info.run_id
    assert run.info.artifact_uri == wasbs(new_container, f"fluent/{run_id}/artifacts")
    assert blob_names(new_container) == [
        f"fluent/{run_id}/artifacts/docs/hello.txt",
        f"fluent/{run_id}/artifacts/docs/notes.txt",
    ]
    got = tracklet.artifacts.download_artifacts(
        run_id=run_id, artifact_path="docs", dst_path=str(tmp_path / "dl")
    )
    assert local_tree(got) == {"hello.txt": b"hello azure", "notes.txt": b"notes"}
    one = tracklet.artifacts.download_artifacts(
        run_id=run_id, artifact_path="docs/hello.txt", dst_path=str(tmp_path / "dl1")
    )
    assert pathlib.Path(one).read_text() == "hello azure"
