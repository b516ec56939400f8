"""tracklet-s3 passes the core's artifact repository suite against moto's real S3
server: at a bucket's root and under a nested prefix."""

from __future__ import annotations

import pytest

from tracklet.testing import ArtifactRepositorySuite
from tracklet_s3.artifacts import S3ArtifactRepository


class TestS3Conformance(ArtifactRepositorySuite):
    # moto closes every connection after its answer, so the fork test cannot catch a
    # shared socket here (test_fork.py runs it through a keep-alive proxy); fewer reads
    # keep it to a few seconds
    fork_reads = 50

    @pytest.fixture(params=["", "/exp/1/run/artifacts"], ids=["bucket-root", "prefix"])
    def repo(self, request: pytest.FixtureRequest, bucket: str) -> S3ArtifactRepository:
        return S3ArtifactRepository(f"s3://{bucket}{request.param}")
