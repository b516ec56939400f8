"""Faults, against moto's real server behind a loopback proxy: S3 throttling a share of
requests with ``503 SlowDown``, uploads that fail part way and uploads whose process is
killed part way. Transfers must complete byte for byte, or leave nothing under the key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tracklet.testing import raises_code
from tracklet.testing.objects import local_tree, round_trip
from tracklet_s3.artifacts import S3ArtifactRepository
from tracklet_s3.testing import MotoServer, SlowDownProxy

MiB = 1024 * 1024


def test_transfers_ride_out_slowdown(
    bucket: str, s3_env: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_parts: int
) -> None:
    src = tmp_path / "src"
    files = {f"d{i % 4}/f{i}.bin": os.urandom(1000 + i) for i in range(40)}
    files["big/model.bin"] = os.urandom(3 * small_parts + 7)
    for rel, content in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(content)
    with SlowDownProxy(s3_env.url, every=3) as proxy:
        monkeypatch.setenv("TRACKLET_S3_ENDPOINT_URL", proxy.url)
        repo = S3ArtifactRepository(f"s3://{bucket}/run/artifacts")
        repo.log_artifacts(str(src), "out")
        listed = {i.path for i in repo.list_artifacts("out")}
        got = repo.download_artifacts("out", str(tmp_path / "dl"))
        single = repo.download_artifacts("out/big/model.bin", str(tmp_path / "one"))
    assert listed == {"out/big", "out/d0", "out/d1", "out/d2", "out/d3"}
    assert local_tree(Path(got)) == files
    assert Path(single).read_bytes() == files["big/model.bin"]
    assert proxy.counts.get("throttled PUT", 0) >= 10 and proxy.counts.get("throttled GET", 0) >= 10


def test_an_upload_failing_part_way_leaves_no_object(
    bucket: str,
    s3: Any,
    s3_env: MotoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    small_parts: int,
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(4 * small_parts))

    def later_parts(method: str, path: str) -> bool:
        return method == "PUT" and "partNumber=" in path and "partNumber=1&" not in path + "&"

    monkeypatch.setenv("TRACKLET_S3_MAX_ATTEMPTS", "2")
    with SlowDownProxy(s3_env.url, every=1, only=later_parts) as proxy:
        monkeypatch.setenv("TRACKLET_S3_ENDPOINT_URL", proxy.url)
        repo = S3ArtifactRepository(f"s3://{bucket}/p")
        with pytest.raises(Exception) as info:
            repo.log_artifact(str(big))
    assert getattr(info.value, "error_code", None) == "INTERNAL_ERROR" and "SlowDown" in str(info.value)
    assert proxy.counts.get("throttled PUT", 0) >= 2
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []  # aborted


_UPLOADER = """
import sys
from tracklet_s3.artifacts import S3ArtifactRepository
S3ArtifactRepository(sys.argv[1]).log_artifact(sys.argv[2])
"""


def test_an_upload_killed_part_way_leaves_no_object(
    bucket: str, s3: Any, s3_env: MotoServer, tmp_path: Path, small_parts: int
) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for _ in range(60):
            f.write(os.urandom(MiB))
    # parts go through a proxy that lets one part in three through at first try, so that
    # the upload is certainly under way, and unfinished, when the process is killed
    with SlowDownProxy(s3_env.url, every=2, only=lambda method, path: "partNumber=" in path) as proxy:
        env = {**os.environ, "TRACKLET_S3_ENDPOINT_URL": proxy.url, "TRACKLET_S3_MAX_CONCURRENCY": "2"}
        child = subprocess.Popen([sys.executable, "-c", _UPLOADER, f"s3://{bucket}/p", str(big)], env=env)
        try:
            deadline = time.monotonic() + 60
            while proxy.counts.get("forwarded PUT", 0) < 2:
                assert child.poll() is None, "the upload finished before it could be interrupted"
                assert time.monotonic() < deadline, "the upload never started"
                time.sleep(0.05)
            child.send_signal(signal.SIGKILL)
        finally:
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert S3ArtifactRepository(f"s3://{bucket}/p").list_artifacts() == []
    with raises_code("RESOURCE_DOES_NOT_EXIST"):
        S3ArtifactRepository(f"s3://{bucket}/p").download_artifacts("big.bin", str(tmp_path / "dl"))
    # what it left is an unfinished multipart upload, which S3's lifecycle rules expire
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])] == ["p/big.bin"]


@pytest.mark.slow
def test_a_1_gib_file_round_trips_with_flat_memory(bucket: str, s3_env: MotoServer, tmp_path: Path) -> None:
    report = round_trip(f"s3://{bucket}/p", tmp_path, 1024 * MiB)
    print(report)
    assert report.same
    assert report.added_rss < 200 * MiB


def test_a_ranged_download_resumes_where_a_broken_body_stopped(
    bucket: str, s3_env: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_parts: int
) -> None:
    content = os.urandom(3 * small_parts + 4321)
    (tmp_path / "big.bin").write_bytes(content)
    S3ArtifactRepository(f"s3://{bucket}/p").log_artifact(str(tmp_path / "big.bin"))
    seen = {"GET": 0}

    def every_other_get(method: str, path: str) -> bool:
        if method != "GET" or not path.split("?")[0].endswith("/p/big.bin"):
            return False
        seen["GET"] += 1
        return seen["GET"] % 2 == 1

    with SlowDownProxy(s3_env.url, every=10**9, cut=every_other_get) as proxy:
        monkeypatch.setenv("TRACKLET_S3_ENDPOINT_URL", proxy.url)
        got = S3ArtifactRepository(f"s3://{bucket}/p").download_artifacts("big.bin", str(tmp_path / "dl"))
    assert Path(got).read_bytes() == content
    assert proxy.counts.get("cut GET", 0) >= 3
    assert [p.name for p in (tmp_path / "dl").iterdir()] == ["big.bin"]  # no .part left behind


def test_an_object_replaced_mid_download_fails_the_download(
    bucket: str,
    s3: Any,
    s3_env: MotoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    small_parts: int,
) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(2 * small_parts))
    S3ArtifactRepository(f"s3://{bucket}/p").log_artifact(str(tmp_path / "big.bin"))
    gets: list[str] = []

    def replace_before_the_ranges(method: str, path: str) -> bool:
        # called before each request is forwarded: the first GET is answered with the
        # old object's size and ETag; before the first ranged GET goes on, a new object
        # takes the key
        if method == "GET" and path.split("?")[0].endswith("/p/big.bin"):
            gets.append(path)
            if len(gets) == 2:
                s3.put_object(Bucket=bucket, Key="p/big.bin", Body=os.urandom(2 * small_parts))
        return False

    with SlowDownProxy(s3_env.url, every=1, only=replace_before_the_ranges) as proxy:
        monkeypatch.setenv("TRACKLET_S3_ENDPOINT_URL", proxy.url)
        with pytest.raises(Exception) as info:
            S3ArtifactRepository(f"s3://{bucket}/p").download_artifacts("big.bin", str(tmp_path / "dl"))
    assert len(gets) >= 2
    assert getattr(info.value, "error_code", None) == "RESOURCE_CONFLICT"
    assert "replaced while it was being downloaded" in str(info.value)
    assert list((tmp_path / "dl").iterdir()) == []  # neither the file nor a .part
