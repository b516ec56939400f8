"""Artifacts through the client, the fluent API and tracklet.artifacts."""

import json
from pathlib import Path

import pytest

import tracklet as mlflow
from tracklet.exceptions import MlflowException


def test_log_and_load_text_dict(tracking_uri, tmp_path):
    with mlflow.start_run() as run:
        artifact_uri = run.info.artifact_uri
        mlflow.log_text("This is a sentence", "file.txt")
        mlflow.log_dict({"mlflow-version": "0.28", "n_cores": "10"}, "config.json")
        mlflow.log_dict({"a": [1, 2]}, "sub/config.yaml")
    assert mlflow.artifacts.load_text(artifact_uri + "/file.txt") == "This is a sentence"
    assert mlflow.artifacts.load_dict(artifact_uri + "/config.json") == {
        "mlflow-version": "0.28",
        "n_cores": "10",
    }
    with pytest.raises(MlflowException) as e:  # as MLflow: load_dict reads JSON, whatever the extension
        mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/sub/config.yaml")
    assert e.value.error_code == "BAD_REQUEST"
    assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/sub/config.yaml") == "a:\n- 1\n- 2\n"


def test_log_artifact_list_download(tracking_uri, tmp_path):
    src = tmp_path / "src"
    (src / "nested").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "nested" / "b.txt").write_text("bb")
    client = mlflow.MlflowClient()
    run_id = client.create_run("0").info.run_id
    client.log_artifact(run_id, str(src / "a.txt"))
    client.log_artifact(run_id, str(src / "a.txt"), "dir")
    client.log_artifacts(run_id, str(src), "tree")
    client.log_artifact(run_id, str(src / "nested"))  # a directory: logged under its name
    listing = {(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id)}
    assert listing == {("a.txt", False, 1), ("dir", True, None), ("tree", True, None), ("nested", True, None)}
    assert [f.path for f in client.list_artifacts(run_id, "tree/nested")] == ["tree/nested/b.txt"]
    dst = tmp_path / "dst"
    local = client.download_artifacts(run_id, "tree", str(dst))
    assert Path(local, "nested", "b.txt").read_text() == "bb"
    local_file = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="dir/a.txt", dst_path=str(dst)
    )
    assert Path(local_file).read_text() == "a"
    listed = mlflow.artifacts.list_artifacts(run_id=run_id, artifact_path="tree")
    assert sorted(f.path for f in listed) == ["tree/a.txt", "tree/nested"]


@pytest.mark.parametrize("bad", ["../x", "/abs/path", "a/../../b", "C:\\evil", "%2e%2e/x"])
def test_artifact_paths_cannot_escape(tracking_uri, tmp_path, bad):
    client = mlflow.MlflowClient()
    run_id = client.create_run("0").info.run_id
    f = tmp_path / "f.txt"
    f.write_text("x")
    before = client.list_artifacts(run_id)
    with pytest.raises(MlflowException) as e:
        client.log_artifact(run_id, str(f), bad)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException):
        client.log_text(run_id, "x", bad + "/t.txt")
    assert client.list_artifacts(run_id) == before


def test_images_figures_tables(tracking_uri):
    import numpy as np
    import pandas as pd

    with mlflow.start_run() as run:
        image = np.random.randint(0, 256, size=(20, 30, 3), dtype=np.uint8)
        mlflow.log_image(image, "image.png")
        mlflow.log_image(mlflow.Image(image), key="dogs", step=3)
        mlflow.log_table({"inputs": ["a", "b"], "score": [0.1, 0.2]}, artifact_file="table.json")
        mlflow.log_table(pd.DataFrame({"inputs": ["c"], "score": [0.3]}), artifact_file="table.json")
    loaded = mlflow.artifacts.load_image(run.info.artifact_uri + "/image.png")
    assert loaded.size == (30, 20)
    names = [f.path for f in mlflow.MlflowClient().list_artifacts(run.info.run_id, "images")]
    assert any(n.endswith(".png") and n.startswith("images/dogs+step+3+timestamp+") for n in names)
    assert any(n.endswith("+compressed.webp") for n in names)
    tags = mlflow.get_run(run.info.run_id).data.tags
    assert tags["mlflow.loggedImages"] == "True"
    assert json.loads(tags["mlflow.loggedArtifacts"]) == [{"path": "table.json", "type": "table"}]
    table = mlflow.MlflowClient().load_table("0", "table.json", extra_columns=["run_id"])
    assert list(table["inputs"]) == ["a", "b", "c"] and set(table["run_id"]) == {run.info.run_id}


def test_log_figure(tracking_uri):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [2, 3])
    with mlflow.start_run() as run:
        mlflow.log_figure(fig, "figure.png")
    plt.close(fig)
    files = mlflow.MlflowClient().list_artifacts(run.info.run_id)
    assert [(f.path, f.file_size > 0) for f in files] == [("figure.png", True)]


def test_list_artifacts_paths_relative_to_the_uri_parent_as_mlflow(tracking_uri, tmp_path):
    # MLflow 3.17.2 on the same tree: runs:/<id>/tree/sub lists ['sub/c.bin'] (the URI's
    # parent is the root), run_id + artifact_path lists from the run's artifact root.
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "sub" / "c.bin").write_text("x")
    (tmp_path / "tree" / "a.txt").write_text("y")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(tmp_path / "tree"), "tree")
    run_id = run.info.run_id
    listed = mlflow.artifacts.list_artifacts(artifact_uri=f"runs:/{run_id}/tree/sub")
    assert [f.path for f in listed] == ["sub/c.bin"]
    listed = mlflow.artifacts.list_artifacts(artifact_uri=f"runs:/{run_id}/tree")
    assert sorted(f.path for f in listed) == ["tree/a.txt", "tree/sub"]
    listed = mlflow.artifacts.list_artifacts(run_id=run_id, artifact_path="tree")
    assert sorted(f.path for f in listed) == ["tree/a.txt", "tree/sub"]
    with pytest.raises(MlflowException):
        mlflow.artifacts.list_artifacts(artifact_uri=f"runs:/{run_id}/tree", run_id=run_id)


def test_set_tracking_uri_with_a_path_stores_its_file_uri(tmp_path):
    # as MLflow: set_tracking_uri(Path("mlruns")) then get_tracking_uri() == "file:///abs/mlruns"
    try:
        mlflow.set_tracking_uri(Path(tmp_path / "mlruns"))
        assert mlflow.get_tracking_uri() == (tmp_path / "mlruns").resolve().as_uri()
        experiment_id = mlflow.create_experiment("by-path")
        assert (tmp_path / "mlruns" / experiment_id).is_dir()
    finally:
        mlflow.set_tracking_uri(None)
