"""Runs whose artifacts live in S3 (moto's server), tracked in a file store and in sqlite:
the client API and the fluent API, with the objects checked where they land; and real
MLflow reading what tracklet wrote to S3 and the other way round."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

import tracklet
from tracklet.testing.objects import local_tree


def _keys(s3: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def _sourcelocal_tree(root: pathlib.Path) -> dict[str, bytes]:
    files = {"a.txt": b"a", "sub/b.bin": b"\x00b", "sub/deeper/é c.txt": "ü".encode(), "empty": b""}
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    return files


def test_the_client_logs_lists_and_downloads_artifacts_in_s3(
    tracking_uri: str, bucket: str, s3: Any, tmp_path: pathlib.Path
) -> None:
    client = tracklet.MlflowClient(tracking_uri)
    experiment_id = client.create_experiment("e", artifact_location=f"s3://{bucket}/some/prefix")
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"s3://{bucket}/some/prefix/{run_id}/artifacts"
    (tmp_path / "model.json").write_text('{"layers": 2}')
    files = _sourcelocal_tree(tmp_path / "tree")

    client.log_artifact(run_id, str(tmp_path / "model.json"))
    client.log_artifacts(run_id, str(tmp_path / "tree"), "data")

    assert [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id)] == [
        ("data", True, None),
        ("model.json", False, 13),
    ]
    assert [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id, "data/sub")] == [
        ("data/sub/b.bin", False, 2),
        ("data/sub/deeper", True, None),
    ]
    prefix = f"some/prefix/{run_id}/artifacts"
    assert _keys(s3, bucket) == sorted([f"{prefix}/model.json"] + [f"{prefix}/data/{k}" for k in files])
    got = client.download_artifacts(run_id, "data", str(tmp_path / "dl"))
    assert local_tree(got) == files
    got = client.download_artifacts(run_id, "model.json", str(tmp_path / "dl2"))
    assert pathlib.Path(got).read_text() == '{"layers": 2}'

    with pytest.raises(tracklet.MlflowException) as info:
        client.log_artifact(run_id, str(tmp_path / "model.json"), "../../escape")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert not any("escape" in k for k in _keys(s3, bucket))


def test_the_fluent_api_logs_to_s3(tracking_uri: str, bucket: str, s3: Any, tmp_path: pathlib.Path) -> None:
    tracklet.set_tracking_uri(tracking_uri)
    tracklet.MlflowClient().create_experiment("fluent", artifact_location=f"s3://{bucket}/fluent")
    tracklet.set_experiment("fluent")
    (tmp_path / "notes.txt").write_text("notes")
    with tracklet.start_run() as run:
        tracklet.log_artifact(str(tmp_path / "notes.txt"), "docs")
        tracklet.log_text("hello s3", "docs/hello.txt")
        tracklet.log_dict({"k": 1}, "config.json")
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"s3://{bucket}/fluent/{run_id}/artifacts"
    assert _keys(s3, bucket) == [
        f"fluent/{run_id}/artifacts/config.json",
        f"fluent/{run_id}/artifacts/docs/hello.txt",
        f"fluent/{run_id}/artifacts/docs/notes.txt",
    ]
    got = tracklet.artifacts.download_artifacts(
        run_id=run_id, artifact_path="docs", dst_path=str(tmp_path / "dl")
    )
    assert local_tree(got) == {"hello.txt": b"hello s3", "notes.txt": b"notes"}
    assert tracklet.artifacts.load_dict(f"runs:/{run_id}/config.json") == {"k": 1}
    assert (
        tracklet.artifacts.load_text(f"s3://{bucket}/fluent/{run_id}/artifacts/docs/hello.txt") == "hello s3"
    )


# -- real MLflow on the same bucket ---------------------------------------------------------

_MLFLOW_READS = r"""
import json, os, sys
from mlflow.store.artifact.s3_artifact_repo import S3ArtifactRepository
repo = S3ArtifactRepository(sys.argv[1])
def walk(path=None):
    out = []
    for info in repo.list_artifacts(path):
        out.append([info.path, info.is_dir, info.file_size])
        if info.is_dir:
            out.extend(walk(info.path))
    return out
listing = walk()
local = repo.download_artifacts("", sys.argv[2])
print(json.dumps({"listing": listing, "root": local}))
"""

_MLFLOW_WRITES = r"""
import sys
from mlflow.store.artifact.s3_artifact_repo import S3ArtifactRepository
repo = S3ArtifactRepository(sys.argv[1])
repo.log_artifacts(sys.argv[2], "data")
repo.log_artifact(sys.argv[3])
"""


def _mlflow(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _walk(repo: Any, path: str | None = None) -> list[list[Any]]:
    out: list[list[Any]] = []
    for info in repo.list_artifacts(path):
        out.append([info.path, info.is_dir, info.file_size])
        if info.is_dir:
            out.extend(_walk(repo, info.path))
    return out


@pytest.mark.interop
def test_mlflow_reads_what_tracklet_wrote_to_s3(bucket: str, tmp_path: pathlib.Path) -> None:
    from tracklet_s3.artifacts import S3ArtifactRepository

    uri = f"s3://{bucket}/exp/run/artifacts"
    files = _sourcelocal_tree(tmp_path / "tree")
    (tmp_path / "model.json").write_text("{}")
    ours = S3ArtifactRepository(uri)
    ours.log_artifacts(str(tmp_path / "tree"), "data")
    ours.log_artifact(str(tmp_path / "model.json"))

    (tmp_path / "mlflow-dl").mkdir()  # MLflow wants the destination to exist
    seen = json.loads(_mlflow(_MLFLOW_READS, uri, str(tmp_path / "mlflow-dl")))
    assert seen["listing"] == _walk(ours)
    assert local_tree(seen["root"]) == {"model.json": b"{}", **{f"data/{k}": v for k, v in files.items()}}


@pytest.mark.interop
def test_tracklet_reads_what_mlflow_wrote_to_s3(bucket: str, tmp_path: pathlib.Path) -> None:
    from tracklet_s3.artifacts import S3ArtifactRepository

    uri = f"s3://{bucket}/exp/run/artifacts"
    files = _sourcelocal_tree(tmp_path / "tree")
    (tmp_path / "model.json").write_text("{}")
    _mlflow(_MLFLOW_WRITES, uri, str(tmp_path / "tree"), str(tmp_path / "model.json"))

    ours = S3ArtifactRepository(uri)
    assert [(i.path, i.is_dir) for i in ours.list_artifacts()] == [("data", True), ("model.json", False)]
    got = ours.download_artifacts("", str(tmp_path / "dl"))
    assert local_tree(got) == {"model.json": b"{}", **{f"data/{k}": v for k, v in files.items()}}
