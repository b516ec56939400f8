"""tracklet's conformance suite over FileStore and LocalArtifactRepository."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from tracklet.testing import ArtifactRepositorySuite, TrackingStoreSuite
from tracklet_file.artifacts import LocalArtifactRepository
from tracklet_file.store import FileStore


class TestFileStore(TrackingStoreSuite):
    @pytest.fixture
    def store(self, tmp_path: pathlib.Path) -> Iterator[FileStore]:
        store = FileStore(store_uri=str(tmp_path / "mlruns"))
        yield store
        store.close()

    @pytest.mark.skip(
        reason="MLflow's mlruns layout keeps a key as a file and 'a/b' as the file b in the "
        "folder a, so one run cannot hold both metric 'a' and metric 'a/b' (MLflow's own "
        "FileStore fails the same way); FileStore refuses the clash with INVALID_PARAMETER_VALUE "
        "before writing anything"
    )
    def test_history_only_holds_its_own_key(self) -> None: ...


class TestLocalArtifactRepository(ArtifactRepositorySuite):
    @pytest.fixture
    def repo(self, tmp_path: pathlib.Path) -> LocalArtifactRepository:
        return LocalArtifactRepository(str(tmp_path / "artifacts"))


class TestLocalArtifactRepositoryByFileUri(ArtifactRepositorySuite):
    @pytest.fixture
    def repo(self, tmp_path: pathlib.Path) -> LocalArtifactRepository:
        return LocalArtifactRepository((tmp_path / "artifacts").as_uri())
