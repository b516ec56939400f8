"""tracklet-s3 passes the core's artifact repository suite against moto's real S3
server: at a bucket's root and under a nested prefix."""

from __future__ import annotations

import pytest

from tracklet.testing import ArtifactRepositorySuite
from tracklet_s3.artifacts import S3ArtifactRepository


class TestS3Conformance(ArtifactRepositorySuite):
    @pytest.fixture(params=["", "/exp/1/run/artifacts"], ids=["bucket-root", "prefix"])
    def repo(self, request: pytest.FixtureRequest, bucket: str) -> S3ArtifactRepository:
        return S3ArtifactRepository(f"s3://{bucket}{request.param}")
