"""Shared fixtures of tracklet-registry's tests (other test modules may add theirs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracklet_registry.file import FileRegistryStore


@pytest.fixture
def mlruns(tmp_path: Path) -> Path:
    """A fresh ``mlruns`` folder path (not created yet)."""
    return tmp_path / "mlruns"


@pytest.fixture
def file_registry_store(mlruns: Path) -> FileRegistryStore:
    """A file registry store (registry and logged models) over a fresh ``mlruns`` folder."""
    return FileRegistryStore(str(mlruns))
