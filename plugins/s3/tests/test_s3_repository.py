"""What tracklet-s3 does beyond the contract, against moto's S3 server: URIs, the
environment variables it shares with MLflow, multipart and ranged transfers, errors that
name the bucket, progress bars, and not importing boto3 until it is needed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tracklet.stores import progress
from tracklet.testing import raises_code
from tracklet.testing.objects import FakeTerminal
from tracklet_s3.artifacts import S3ArtifactRepository, parse_s3_uri

MiB = 1024 * 1024


def _file(path: Path, content: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return str(path)


# -- URIs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket/a/b/artifacts", ("bucket", "a/b/artifacts")),
        ("s3://my.dotted-bucket/x/", ("my.dotted-bucket", "x")),
    ],
)
def test_uris_name_a_bucket_and_a_prefix(uri: str, expected: tuple[str, str]) -> None:
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "s3:///no-bucket",
        "s3://user:pw@bucket/x",
        "s3://bucket:9000/x",
        "s3://bucket/x?versionId=1",
        "gs://b/x",
    ],
)
def test_malformed_uris_are_refused_with_the_rule(uri: str) -> None:
    with raises_code("INVALID_PARAMETER_VALUE") as info:
        S3ArtifactRepository(uri)
    assert uri in str(info.value) and "s3://" in str(info.value)


def test_a_prefix_that_climbs_is_refused(bucket: str) -> None:
    with raises_code("INVALID_PARAMETER_VALUE"):
        S3ArtifactRepository(f"s3://{bucket}/exp/../../other")


def test_the_repository_is_resolved_by_scheme(bucket: str) -> None:
    from tracklet.plugins import get_artifact_repository

    repo = get_artifact_repository(f"s3://{bucket}/p")
    assert isinstance(repo, S3ArtifactRepository) and repo.prefix == "p"


# -- where objects land ----------------------------------------------------------------------


def test_objects_land_under_the_prefix_with_a_content_type(bucket: str, s3: Any, tmp_path: Path) -> None:
    repo = S3ArtifactRepository(f"s3://{bucket}/exp/run/artifacts")
    repo.log_artifact(_file(tmp_path / "model.json", b"{}"), "m")
    repo.log_artifact(_file(tmp_path / "weights.bin", b"\x00"), "m")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["exp/run/artifacts/m/model.json", "exp/run/artifacts/m/weights.bin"]
    head = s3.head_object(Bucket=bucket, Key="exp/run/artifacts/m/model.json")
    assert head["ContentType"] == "application/json"


def test_a_sibling_runs_objects_are_left_alone(bucket: str, s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key="run10/other.txt", Body=b"not mine")
    repo = S3ArtifactRepository(f"s3://{bucket}/run1")
    repo.log_artifact(_file(tmp_path / "mine.txt", b"mine"))
    assert [i.path for i in repo.list_artifacts()] == ["mine.txt"]
    repo.delete_artifacts()
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["run10/other.txt"]


def test_folder_markers_made_by_consoles_are_not_listed(bucket: str, s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key="p/folder/", Body=b"")
    s3.put_object(Bucket=bucket, Key="p/folder/f.txt", Body=b"abc")
    repo = S3ArtifactRepository(f"s3://{bucket}/p")
    assert [(i.path, i.is_dir) for i in repo.list_artifacts()] == [("folder", True)]
    assert [(i.path, i.file_size) for i in repo.list_artifacts("folder")] == [("folder/f.txt", 3)]


def test_listing_pages_through_more_than_a_thousand_objects(bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "many"
    for i in range(1100):
        _file(src / f"f{i:04d}.txt", b"x")
    repo = S3ArtifactRepository(f"s3://{bucket}/p")
    repo.log_artifacts(str(src), "many")
    assert len(repo.list_artifacts("many")) == 1100
    got = repo.download_artifacts("many", str(tmp_path / "dl"))
    assert len(os.listdir(got)) == 1100
    repo.delete_artifacts("many")  # two DeleteObjects batches
    assert repo.list_artifacts() == []


# -- settings shared with MLflow -------------------------------------------------------------


def test_upload_extra_args_reach_s3(
    bucket: str, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_S3_UPLOAD_EXTRA_ARGS", json.dumps({"ServerSideEncryption": "AES256"}))
    repo = S3ArtifactRepository(f"s3://{bucket}/p")
    repo.log_artifact(_file(tmp_path / "secret.txt", b"s"))
    assert s3.head_object(Bucket=bucket, Key="p/secret.txt")["ServerSideEncryption"] == "AES256"


def test_tracklet_variables_win_over_mlflows(
    bucket: str, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_S3_UPLOAD_EXTRA_ARGS", json.dumps({"ServerSideEncryption": "aws:kms"}))
    monkeypatch.setenv("TRACKLET_S3_UPLOAD_EXTRA_ARGS", json.dumps({"ServerSideEncryption": "AES256"}))
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    repo = S3ArtifactRepository(f"s3://{bucket}/p")
    repo.log_artifact(_file(tmp_path / "f.txt", b"f"))
    assert s3.head_object(Bucket=bucket, Key="p/f.txt")["ServerSideEncryption"] == "AES256"


def test_mlflows_endpoint_variable_alone_is_enough(
    bucket: str, moto_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRACKLET_S3_ENDPOINT_URL")
    assert os.environ["MLFLOW_S3_ENDPOINT_URL"] == moto_server.url
    repo = S3ArtifactRepository(f"s3://{bucket}/p")
    repo.log_artifact(_file(tmp_path / "f.txt", b"f"))
    assert [i.path for i in repo.list_artifacts()] == ["f.txt"]


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("TRACKLET_S3_UPLOAD_EXTRA_ARGS", "not json", "JSON object"),
        ("MLFLOW_S3_UPLOAD_EXTRA_ARGS", "[1, 2]", "JSON object"),
        ("TRACKLET_S3_MULTIPART_CHUNKSIZE", "1024", "at least 5242880"),
        ("TRACKLET_S3_MAX_ATTEMPTS", "many", "whole number"),
    ],
)
def test_bad_settings_are_named(
    bucket: str, monkeypatch: pytest.MonkeyPatch, name: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(name, value)
    with raises_code("INVALID_PARAMETER_VALUE") as info:
        S3ArtifactRepository(f"s3://{bucket}/p")
    assert needle in str(info.value) and name.removeprefix("MLFLOW_").removeprefix("TRACKLET_") in str(
        info.value
    )


# -- errors ----------------------------------------------------------------------------------


def test_a_missing_bucket_says_what_to_do(s3_env: Any, tmp_path: Path) -> None:
    repo = S3ArtifactRepository("s3://no-such-bucket-here/p")
    for call in (
        lambda: repo.log_artifact(_file(tmp_path / "f.txt", b"f")),
        lambda: repo.list_artifacts(),
        lambda: repo.download_artifacts("f.txt", str(tmp_path / "dl")),
    ):
        with raises_code("RESOURCE_DOES_NOT_EXIST") as info:
            call()
        assert "'no-such-bucket-here' does not exist" in str(info.value)


def test_refused_credentials_name_the_bucket(
    s3_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracklet_s3.testing import MotoServer

    with MotoServer(tmp_path / "moto-auth.log", env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"}) as strict:
        monkeypatch.setenv("TRACKLET_S3_ENDPOINT_URL", strict.url)
        repo = S3ArtifactRepository("s3://guarded-bucket/p")
        with raises_code("PERMISSION_DENIED") as info:
            repo.log_artifact(_file(tmp_path / "src" / "f.txt", b"f"))
        assert "'guarded-bucket'" in str(info.value) and "credentials" in str(info.value)


def test_a_missing_object_is_resource_does_not_exist(bucket: str, tmp_path: Path) -> None:
    repo = S3ArtifactRepository(f"s3://{bucket}/p")
    with raises_code("RESOURCE_DOES_NOT_EXIST"):
        repo._download_file("nothing.bin", str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


# -- big files ----------------------------------------------------------------------------


def test_a_big_file_goes_up_in_parts_and_down_in_ranges(
    bucket: str, s3: Any, tmp_path: Path, small_parts: int
) -> None:
    content = os.urandom(3 * small_parts + 12345)
    repo = S3ArtifactRepository(f"s3://{bucket}/p")
    repo.log_artifact(_file(tmp_path / "big.bin", content), "d")
    head = s3.head_object(Bucket=bucket, Key="p/d/big.bin")
    assert head["ETag"].strip('"').endswith("-4")  # a multipart object of 4 parts
    assert head["ContentLength"] == len(content)
    got = repo.download_artifacts("d/big.bin", str(tmp_path / "dl"))
    assert hashlib.sha256(Path(got).read_bytes()).digest() == hashlib.sha256(content).digest()
    tree = repo.download_artifacts("d", str(tmp_path / "tree"))  # size known from the listing
    assert Path(tree, "big.bin").read_bytes() == content


def test_a_file_logged_by_someone_else_downloads_whatever_its_size(
    bucket: str, s3: Any, tmp_path: Path, small_parts: int
) -> None:
    content = os.urandom(2 * small_parts)
    s3.put_object(Bucket=bucket, Key="p/external.bin", Body=content)
    repo = S3ArtifactRepository(f"s3://{bucket}/p")
    got = repo.download_artifacts("external.bin", str(tmp_path / "dl"))
    assert Path(got).read_bytes() == content


# -- progress --------------------------------------------------------------------------------


@pytest.mark.parametrize("disabled", [False, True])
def test_big_transfers_show_a_bar_on_a_terminal(
    bucket: str, tmp_path: Path, small_parts: int, monkeypatch: pytest.MonkeyPatch, disabled: bool
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(progress, "PROGRESS_MIN_BYTES", small_parts)
    if disabled:
        monkeypatch.setenv("TRACKLET_DISABLE_PROGRESS", "1")
    repo = S3ArtifactRepository(f"s3://{bucket}/p")
    repo.log_artifact(_file(tmp_path / "big.bin", os.urandom(2 * small_parts)))
    repo.download_artifacts("big.bin", str(tmp_path / "dl"))
    shown = terminal.getvalue()
    if disabled:
        assert shown == ""
    else:
        assert "Uploading big.bin" in shown and "Downloading big.bin" in shown and "10.0M" in shown


def test_small_transfers_stay_quiet(bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    repo = S3ArtifactRepository(f"s3://{bucket}/p")
    repo.log_artifact(_file(tmp_path / "small.bin", b"x" * 1000))
    repo.download_artifacts("small.bin", str(tmp_path / "dl"))
    assert terminal.getvalue() == ""


# -- imports ---------------------------------------------------------------------------------


def test_boto3_loads_only_when_a_repository_is_built() -> None:
    code = (
        "import sys, tracklet, tracklet.plugins as p\n"
        "import tracklet_s3, tracklet_s3.plugin, tracklet_s3.artifacts\n"
        "p.get_plugin_manager()\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 's3transfer')], 'early'\n"
        "p.get_artifact_repository('s3://some-bucket/x')\n"
        "assert 'boto3' in sys.modules\n"
        "print('ok')\n"
    )
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr
