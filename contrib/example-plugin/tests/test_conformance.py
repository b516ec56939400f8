"""tracklet's conformance suite on the in-memory store and repository: all of it."""

import uuid

import pytest

from tracklet.testing import ArtifactRepositorySuite, TrackingStoreSuite
from tracklet_example.artifacts import MemoryArtifactRepository
from tracklet_example.store import MemoryTrackingStore


class TestMemoryTrackingStore(TrackingStoreSuite):
    @pytest.fixture
    def store(self):
        return MemoryTrackingStore(f"memory://{uuid.uuid4().hex}")


class TestMemoryArtifactRepository(ArtifactRepositorySuite):
    @pytest.fixture
    def repo(self):
        return MemoryArtifactRepository(f"memory://{uuid.uuid4().hex}/artifacts")
