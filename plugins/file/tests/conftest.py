"""Fixtures of tracklet-file's tests: a fresh store on a temporary folder."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator

import pytest

from tracklet_file.store import FileStore


@pytest.fixture
def root(tmp_path: pathlib.Path) -> str:
    """Path of a tracking folder that does not exist yet."""
    return os.path.join(str(tmp_path), "mlruns")


@pytest.fixture
def store(root: str) -> Iterator[FileStore]:
    """A FileStore on ``root`` (created with its Default experiment)."""
    s = FileStore(root)
    yield s
    s.close()
