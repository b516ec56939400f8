"""tracklet-azure across ``os.fork()``: a child forked after the parent used a repository
builds its own ``BlobServiceClient`` instead of sharing the parent's pooled connections.

Azurite keeps connections open, so the conformance suite's fork test shows a shared
client there (with one, a child's upload failed on its parent's socket: 400 Bad Request);
this test checks the client itself.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import pytest

from tracklet.testing.objects import check_client_after_fork
from tracklet_azure.artifacts import AzureBlobArtifactRepository

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() does not exist on this platform")


def test_a_forked_child_builds_its_own_client(
    azure_env: Any, new_container: str, wasbs: Any, tmp_path: pathlib.Path
) -> None:
    repo = AzureBlobArtifactRepository(wasbs(new_container, "p"))
    check_client_after_fork(repo, lambda: repo._container, tmp_path)
