"""The file registry store passes the core's conformance suites: the registry
(RegistryStoreSuite) and logged models over the tracking file store's folder
(LoggedModelStoreSuite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracklet.plugins import get_tracking_store
from tracklet.stores import TrackingStore
from tracklet.testing import LoggedModelStoreSuite, RegistryStoreSuite
from tracklet_registry.file import FileRegistryStore


class TestFileRegistryStore(RegistryStoreSuite):
    @pytest.fixture
    def registry_store(self, tmp_path: Path) -> FileRegistryStore:
        return FileRegistryStore(str(tmp_path / "mlruns"))


class TestFileLoggedModelStore(LoggedModelStoreSuite):
    @pytest.fixture
    def tracking_store(self, tmp_path: Path) -> TrackingStore:
        return get_tracking_store(str(tmp_path / "mlruns"))

    @pytest.fixture
    def logged_model_store(self, tracking_store: TrackingStore) -> FileRegistryStore:
        return FileRegistryStore(tracking_store.store_uri)
