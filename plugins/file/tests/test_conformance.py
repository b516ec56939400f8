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


class TestLocalArtifactRepository(ArtifactRepositorySuite):
    @pytest.fixture
    def repo(self, tmp_path: pathlib.Path) -> LocalArtifactRepository:
        return LocalArtifactRepository(str(tmp_path / "artifacts"))


class TestLocalArtifactRepositoryByFileUri(ArtifactRepositorySuite):
    @pytest.fixture
    def repo(self, tmp_path: pathlib.Path) -> LocalArtifactRepository:
        return LocalArtifactRepository((tmp_path / "artifacts").as_uri())
