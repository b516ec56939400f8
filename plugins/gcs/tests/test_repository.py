"""GCSArtifactRepository against a real gcp-storage-emulator: the artifact conformance
suite at a bucket's root and under a nested prefix; and what the suite does not see:
where the objects land, content types, resumable and chunked transfers, deletes, folder
placeholder objects, and the errors for a missing bucket or refused credentials."""

from __future__ import annotations

import gc
import pathlib
import warnings
from typing import Any

import pytest

from tracklet.entities import FileInfo
from tracklet.testing import ArtifactRepositorySuite, raises_code
from tracklet_gcs.artifacts import GCSArtifactRepository

PREFIXES = pytest.mark.parametrize("prefix", ["", "exp/run/artifacts"], ids=["bucket-root", "prefix"])
MiB = 1 << 20


def _file(folder: pathlib.Path, name: str, content: bytes) -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return str(path)


class TestGCSConformance(ArtifactRepositorySuite):
    @pytest.fixture(params=["", "exp/run/artifacts"], ids=["bucket-root", "prefix"])
    def repo(self, request: pytest.FixtureRequest, repo_at: Any) -> GCSArtifactRepository:
        return repo_at(request.param)


@PREFIXES
def test_objects_land_under_the_uris_path(
    prefix: str, repo_at: Any, object_names: Any, tmp_path: pathlib.Path
) -> None:
    repo = repo_at(prefix)
    repo.log_artifact(_file(tmp_path, "f ü.txt", b"x"), "a/b")
    assert object_names() == [f"{prefix}/a/b/f ü.txt".lstrip("/")]


def test_content_types_come_from_the_file_names(
    repo_at: Any, admin: Any, new_bucket: str, tmp_path: pathlib.Path
) -> None:
    repo = repo_at()
    for name in ("model.json", "notes.txt", "weights.bin", "data.tar.gz", "no-extension"):
        repo.log_artifact(_file(tmp_path, name, b"{}"))
    types = {blob.name: blob.content_type for blob in admin.list_blobs(new_bucket)}
    assert types == {
        "model.json": "application/json",
        "notes.txt": "text/plain",
        "weights.bin": "application/octet-stream",
        "data.tar.gz": "application/octet-stream",
        "no-extension": "application/octet-stream",
    }


@pytest.mark.parametrize("chunked_download", [False, True], ids=["streamed-get", "ranged-gets"])
def test_a_file_over_the_chunk_size_goes_up_resumable_and_comes_back_whole(
    chunked_download: bool,
    repo_at: Any,
    emulator: Any,
    new_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: pathlib.Path,
) -> None:
    monkeypatch.setenv("TRACKLET_GCS_UPLOAD_CHUNK_SIZE", str(MiB))
    if chunked_download:
        monkeypatch.setenv("TRACKLET_GCS_DOWNLOAD_CHUNK_SIZE", str(MiB))
    content = bytes(range(256)) * (10 * MiB // 256 + 3)  # 10 MiB and a bit: over 8 MiB, 11 chunks
    repo = repo_at("p")
    before = len(emulator.output())
    repo.log_artifact(_file(tmp_path, "big.bin", content))
    got = repo.download_artifacts("big.bin", str(tmp_path / "dl"))
    assert pathlib.Path(got).read_bytes() == content
    requests = emulator.output()[before:]  # the emulator logs each request line
    assert requests.count(f"POST /upload/storage/v1/b/{new_bucket}/o?uploadType=resumable") == 1
    assert requests.count(f"PUT /upload/storage/v1/b/{new_bucket}/o?uploadType=resumable&upload_id=") == 11
    assert requests.count(f"GET /download/storage/v1/b/{new_bucket}/o/p%2Fbig.bin") == (
        11 if chunked_download else 1
    )
    assert not list((tmp_path / "dl").glob(".*.part"))


def test_deletes_take_every_object_under_the_path_and_nothing_else(
    repo_at: Any, object_names: Any, tmp_path: pathlib.Path
) -> None:
    repo = repo_at("p")
    count = 60
    for i in range(count):
        repo.log_artifact(_file(tmp_path, f"f{i}.txt", b"x"), f"gone/{i % 7}")
    repo.log_artifact(_file(tmp_path, "kept ü.txt", b"k"))
    repo.log_artifact(_file(tmp_path, "gone.txt", b"k"))  # shares the prefix "gone", not the folder
    assert len(object_names()) == count + 2
    repo.delete_artifacts("gone")
    assert object_names() == ["p/gone.txt", "p/kept ü.txt"]


def test_deleting_missing_keys_is_not_an_error(
    repo_at: Any, object_names: Any, tmp_path: pathlib.Path
) -> None:
    repo = repo_at()
    repo.log_artifact(_file(tmp_path, "f.txt", b"x"))
    repo._delete_objects(["missing", "also/missing.txt"])
    assert object_names() == ["f.txt"]
    repo._delete_objects(["missing", "f.txt"])
    assert object_names() == []


def test_folder_placeholder_objects_are_not_files(
    repo_at: Any, admin: Any, new_bucket: str, tmp_path: pathlib.Path
) -> None:
    # What the Cloud Console's "Create folder" writes: an empty object named like the folder.
    bucket = admin.bucket(new_bucket)
    bucket.blob("p/d/").upload_from_string(b"")
    bucket.blob("p/d/sub/").upload_from_string(b"")
    bucket.blob("p/d/sub/f.txt").upload_from_string(b"abc")
    repo = repo_at("p")
    assert repo.list_artifacts() == [FileInfo("d", True, None)]
    assert repo.list_artifacts("d") == [FileInfo("d/sub", True, None)]
    got = repo.download_artifacts("", str(tmp_path / "dl"))
    assert sorted(str(p.relative_to(got)) for p in pathlib.Path(got).rglob("*")) == [
        "d",
        "d/sub",
        "d/sub/f.txt",
    ]


@pytest.mark.parametrize(
    "operation",
    [
        lambda repo, tmp: repo.list_artifacts(),
        lambda repo, tmp: repo.log_artifact(_file(tmp, "f.txt", b"x")),
        lambda repo, tmp: repo.log_artifact(_file(tmp, "big.bin", b"x" * (9 * MiB))),
        lambda repo, tmp: repo._get_object("p/f.txt", str(tmp / "f.txt"), None),
        lambda repo, tmp: repo.download_artifacts("f.txt", str(tmp / "dl")),
        lambda repo, tmp: repo.delete_artifacts(),
    ],
    ids=["list", "upload", "resumable-upload", "get", "download", "delete"],
)
def test_a_missing_bucket_is_named_with_what_to_do(
    operation: Any, gcs_env: Any, gs: Any, tmp_path: pathlib.Path
) -> None:
    repo = GCSArtifactRepository(gs("no-such-bucket", "p"))
    with raises_code("RESOURCE_DOES_NOT_EXIST") as info:
        operation(repo, tmp_path)
    message = str(info.value)
    assert "bucket 'no-such-bucket' does not exist" in message
    assert "gcloud storage buckets create gs://no-such-bucket" in message


def test_a_missing_object_in_a_bucket_is_not_a_missing_bucket(
    repo_at: Any, new_bucket: str, tmp_path: pathlib.Path
) -> None:
    repo = repo_at("p")
    with raises_code("RESOURCE_DOES_NOT_EXIST") as info:
        repo._get_object("p/nothing.txt", str(tmp_path / "x"), None)
    assert str(info.value) == f"No object gs://{new_bucket}/p/nothing.txt"


def test_refused_credentials_name_the_bucket_and_the_credentials(
    refusing_server: str, monkeypatch: pytest.MonkeyPatch, gs: Any, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", refusing_server)
    repo = GCSArtifactRepository(gs("locked", "p"))
    for operation in (
        repo.list_artifacts,
        lambda: repo.log_artifact(_file(tmp_path, "f.txt", b"x")),
        lambda: repo.log_artifact(_file(tmp_path, "big.bin", b"x" * (9 * MiB))),
        lambda: repo._get_object("p/f.txt", str(tmp_path / "got"), None),
    ):
        with raises_code("PERMISSION_DENIED") as info:
            operation()
        message = str(info.value)
        assert "GCS refused access to the bucket 'locked' (403" in message
        assert f"anonymous credentials (STORAGE_EMULATOR_HOST={refusing_server})" in message
        assert "roles/storage.objectAdmin" in message


def test_every_kind_of_call_is_retried_after_a_503(
    repo_at: Any, flaky_proxy: Any, new_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", flaky_proxy.url)
    monkeypatch.setenv("TRACKLET_GCS_UPLOAD_CHUNK_SIZE", str(MiB))
    repo = repo_at("p")
    big = bytes(range(256)) * (9 * MiB // 256)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        repo.log_artifact(_file(tmp_path, "small.txt", b"small"))
        repo.log_artifact(_file(tmp_path, "big.bin", big))  # resumable: the session and a chunk fail once
        assert [info.path for info in repo.list_artifacts()] == ["big.bin", "small.txt"]
        got = repo.download_artifacts("", str(tmp_path / "dl"))
        assert pathlib.Path(got, "big.bin").read_bytes() == big
        assert pathlib.Path(got, "small.txt").read_bytes() == b"small"
        repo.delete_artifacts()
        assert repo.list_artifacts() == []
        gc.collect()
    # a failed attempt's connection went back to the pool, not to the garbage collector
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    kinds = {request.split("?")[0] for request in flaky_proxy.failed}
    assert {
        f"POST /upload/storage/v1/b/{new_bucket}/o",  # the multipart upload and the resumable session
        f"PUT /upload/storage/v1/b/{new_bucket}/o",  # a chunk of the resumable upload
        f"GET /storage/v1/b/{new_bucket}/o",  # listings
        f"GET /download/storage/v1/b/{new_bucket}/o/p%2Fbig.bin",
        f"DELETE /storage/v1/b/{new_bucket}/o/p%2Fsmall.txt",
    } <= kinds


@pytest.mark.parametrize("server", ["unavailable_server", "nobody_listening"])
def test_a_server_that_stays_away_is_temporarily_unavailable(
    server: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    gs: Any,
    tmp_path: pathlib.Path,
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", request.getfixturevalue(server))
    monkeypatch.setenv("TRACKLET_GCS_RETRY_TIMEOUT", "0.5")
    repo = GCSArtifactRepository(gs("bucket", "p"))
    for operation in (repo.list_artifacts, lambda: repo.log_artifact(_file(tmp_path, "f.txt", b"x"))):
        with raises_code("TEMPORARILY_UNAVAILABLE") as info:
            operation()
        assert "retried for up to 0.5s (TRACKLET_GCS_RETRY_TIMEOUT)" in str(info.value)


def test_listings_of_many_pages_are_read_to_the_end(
    repo_at: Any,
    paging_proxy: str,
    admin: Any,
    new_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: pathlib.Path,
) -> None:
    bucket = admin.bucket(new_bucket)
    names = [f"f{i:02d}.txt" for i in range(8)] + [f"d{i}/x.txt" for i in range(4)] + ["d0/y/z.txt"]
    for name in names:
        bucket.blob(f"p/{name}").upload_from_string(name.encode())
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", paging_proxy)
    repo = repo_at("p")
    # one level: 12 entries, sub-prefixes and objects mixed, over 4 pages
    assert repo.list_artifacts() == sorted(
        [FileInfo(f"d{i}", True, None) for i in range(4)]
        + [FileInfo(f"f{i:02d}.txt", False, 7) for i in range(8)],
        key=lambda info: info.path,
    )
    got = repo.download_artifacts("", str(tmp_path / "dl"))  # a tree: 13 objects over 5 pages
    assert sorted(str(p.relative_to(got)) for p in pathlib.Path(got).rglob("*") if p.is_file()) == sorted(
        names
    )
    repo.delete_artifacts()
    assert repo.list_artifacts() == []


def test_a_download_that_fails_its_checksum_leaves_no_file(
    repo_at: Any, corrupting_proxy: str, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    repo_at("p").log_artifact(_file(tmp_path, "model.bin", b"weights" * 1000))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", corrupting_proxy)
    with raises_code("INTERNAL_ERROR") as info:
        repo_at("p").download_artifacts("model.bin", str(tmp_path / "dl"))
    assert "model.bin failed its checksum" in str(info.value)
    assert list((tmp_path / "dl").iterdir()) == []  # neither the file nor its .part
