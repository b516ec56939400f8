"""AzureBlobArtifactRepository against a real Azurite: the artifact conformance suite at a
container's root and under a nested prefix, through wasbs:// and abfss:// URIs; and what
the suite does not see: where the blobs land, content types, batch and single deletes,
hierarchical-namespace folder entries, and the errors for a missing container or a
refused credential."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from tracklet.entities import FileInfo
from tracklet.testing import ArtifactRepositorySuite, raises_code
from tracklet_azure.artifacts import AzureBlobArtifactRepository

PREFIXES = pytest.mark.parametrize("prefix", ["", "exp/run/artifacts"], ids=["container-root", "prefix"])


def _file(folder: pathlib.Path, name: str, content: bytes) -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return str(path)


class TestAzureConformance(ArtifactRepositorySuite):
    fork_reads = 100  # Azurite keeps connections open, so 100 reads show a shared one

    @pytest.fixture(params=["", "exp/run/artifacts"], ids=["container-root", "prefix"])
    def repo(
        self, request: pytest.FixtureRequest, azure_env: Any, new_container: str, wasbs: Any
    ) -> AzureBlobArtifactRepository:
        return AzureBlobArtifactRepository(wasbs(new_container, request.param))


class TestAzureConformanceThroughAbfss(ArtifactRepositorySuite):
    """abfss:// goes to the same account's Blob endpoint; with a connection string, to its
    BlobEndpoint (Azurite has no Data Lake endpoint, so this is the Blob API throughout)."""

    fork_reads = 100

    @pytest.fixture
    def repo(self, azure_env: Any, new_container: str) -> AzureBlobArtifactRepository:
        return AzureBlobArtifactRepository(
            f"abfss://{new_container}@devstoreaccount1.dfs.core.windows.net/exp/run/artifacts"
        )


@PREFIXES
def test_blobs_land_under_the_uris_path(
    prefix: str, azure_env: Any, new_container: str, wasbs: Any, blob_names: Any, tmp_path: pathlib.Path
) -> None:
    repo = AzureBlobArtifactRepository(wasbs(new_container, prefix))
    repo.log_artifact(_file(tmp_path, "f.txt", b"x"), "a/b")
    assert blob_names(new_container) == [f"{prefix}/a/b/f.txt".lstrip("/")]


def test_wasb_and_abfss_uris_reach_the_same_blobs(
    azure_env: Any, new_container: str, tmp_path: pathlib.Path
) -> None:
    wasbs = AzureBlobArtifactRepository(f"wasbs://{new_container}@devstoreaccount1.blob.core.windows.net/p")
    wasbs.log_artifact(_file(tmp_path, "f.txt", b"same"))
    for uri in (
        f"wasb://{new_container}@devstoreaccount1.blob.core.windows.net/p",
        f"abfss://{new_container}@devstoreaccount1.dfs.core.windows.net/p",
    ):
        assert AzureBlobArtifactRepository(uri).list_artifacts() == [FileInfo("f.txt", False, 4)]


def test_content_types_come_from_the_file_names(
    azure_env: Any, admin: Any, new_container: str, wasbs: Any, tmp_path: pathlib.Path
) -> None:
    repo = AzureBlobArtifactRepository(wasbs(new_container))
    for name in ("model.json", "notes.txt", "weights.bin", "data.tar.gz", "no-extension"):
        repo.log_artifact(_file(tmp_path, name, b"{}"))
    container = admin.get_container_client(new_container)
    types = {b.name: b.content_settings.content_type for b in container.list_blobs()}
    assert types == {
        "model.json": "application/json",
        "notes.txt": "text/plain",
        "weights.bin": "application/octet-stream",
        "data.tar.gz": "application/octet-stream",
        "no-extension": "application/octet-stream",
    }


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "one-by-one"])
def test_deletes_in_batches_or_one_by_one(
    batch: bool, azure_env: Any, new_container: str, wasbs: Any, blob_names: Any, tmp_path: pathlib.Path
) -> None:
    repo = AzureBlobArtifactRepository(wasbs(new_container, "p"))
    repo.batch_delete = batch
    count = 300  # more than one batch of 256
    for i in range(count):
        repo.log_artifact(_file(tmp_path, f"f{i}.txt", b"x"), f"gone/{i % 7}")
    repo.log_artifact(_file(tmp_path, "kept ü.txt", b"k"))
    assert len(blob_names(new_container)) == count + 1
    repo.delete_artifacts("gone")
    assert blob_names(new_container) == ["p/kept ü.txt"]
    assert repo.batch_delete is batch  # Azurite takes batches: no fallback happened


def test_deleting_missing_keys_is_not_an_error(
    azure_env: Any, new_container: str, wasbs: Any, blob_names: Any, tmp_path: pathlib.Path
) -> None:
    repo = AzureBlobArtifactRepository(wasbs(new_container))
    repo.log_artifact(_file(tmp_path, "f.txt", b"x"))
    for batch in (True, False):
        repo.batch_delete = batch
        repo._delete_objects(["missing", "also/missing.txt"])
    assert blob_names(new_container) == ["f.txt"]
    repo._delete_objects(["missing", "f.txt"])
    assert blob_names(new_container) == []


def test_folder_entries_of_a_hierarchical_namespace_are_not_files(
    azure_env: Any, admin: Any, new_container: str, wasbs: Any, tmp_path: pathlib.Path
) -> None:
    # What the Blob API of an ADLS Gen2 account lists for directories: empty blobs named
    # like the directory, with hdi_isfolder metadata (written here as such an account would).
    container = admin.get_container_client(new_container)
    container.upload_blob("p/d", b"", metadata={"hdi_isfolder": "true"})
    container.upload_blob("p/d/sub", b"", metadata={"hdi_isfolder": "true"})
    container.upload_blob("p/d/sub/f.txt", b"abc")
    repo = AzureBlobArtifactRepository(wasbs(new_container, "p"))
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
        lambda repo, tmp: repo.download_artifacts("f.txt", str(tmp / "dl")),
        lambda repo, tmp: repo.delete_artifacts(),
    ],
    ids=["list", "upload", "download", "delete"],
)
def test_a_missing_container_is_named_with_what_to_do(
    operation: Any, azure_env: Any, wasbs: Any, tmp_path: pathlib.Path
) -> None:
    repo = AzureBlobArtifactRepository(wasbs("no-such-container", "p"))
    with raises_code("RESOURCE_DOES_NOT_EXIST") as info:
        operation(repo, tmp_path)
    message = str(info.value)
    assert "container 'no-such-container' does not exist" in message
    assert "devstoreaccount1" in message and "az storage container create" in message


def test_a_refused_key_names_the_account(
    azurite: Any, monkeypatch: pytest.MonkeyPatch, new_container: str, wasbs: Any, tmp_path: pathlib.Path
) -> None:
    wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleSE="
    endpoint = azurite.endpoint
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING",
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={wrong_key};BlobEndpoint={endpoint};",
    )
    repo = AzureBlobArtifactRepository(wasbs(new_container))
    for operation in (repo.list_artifacts, lambda: repo.log_artifact(_file(tmp_path, "f.txt", b"x"))):
        with raises_code("PERMISSION_DENIED") as info:
            operation()
        assert "storage account 'devstoreaccount1'" in str(info.value)
        assert "AZURE_STORAGE_CONNECTION_STRING" in str(info.value)
