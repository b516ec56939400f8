"""tracklet-s3 across ``os.fork()``: a child forked after the parent used a repository
makes its own boto3 client instead of sharing the parent's pooled connections.

moto's server closes every connection after its answer, which hides a shared socket
from the conformance suite's fork test; the last test runs that fork test through a
keep-alive proxy, as real S3 keeps connections open (with a shared client, one child in
four got other processes' bodies: 150 checksum errors in 300 reads).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tracklet.testing.objects import check_client_after_fork, check_forked_reads
from tracklet_s3._client import client_for
from tracklet_s3.artifacts import S3ArtifactRepository
from tracklet_s3.testing import MotoServer, SlowDownProxy

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() does not exist on this platform")


def test_a_forked_child_makes_its_own_client(bucket: str, tmp_path: Path) -> None:
    repo = S3ArtifactRepository(f"s3://{bucket}/p")
    check_client_after_fork(repo, lambda: repo._client, tmp_path)
    assert repo._client is client_for(repo.settings)


@pytest.mark.slow
def test_forked_children_and_their_parent_through_a_keep_alive_server(
    bucket: str, s3_env: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SlowDownProxy(s3_env.url, every=10**9) as proxy:  # forwards all, keeps connections open
        monkeypatch.setenv("TRACKLET_S3_ENDPOINT_URL", proxy.url)
        check_forked_reads(S3ArtifactRepository(f"s3://{bucket}/run/artifacts"), tmp_path, reads=100)
