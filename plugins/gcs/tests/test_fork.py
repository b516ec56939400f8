"""tracklet-gcs across ``os.fork()``: a child forked after the parent used a repository
builds its own ``storage.Client`` instead of sharing the parent's pooled connections.

The emulator closes every connection after its answer, which hides a shared socket from
the conformance suite's fork test; the last test runs it through a keep-alive proxy, as
GCS keeps connections open.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import pytest

from tracklet.testing.objects import check_client_after_fork, check_forked_reads

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() does not exist on this platform")


def test_a_forked_child_builds_its_own_client(repo_at: Any, tmp_path: pathlib.Path) -> None:
    repo = repo_at("p")
    check_client_after_fork(repo, lambda: repo._client, tmp_path)


@pytest.mark.slow
def test_forked_children_and_their_parent_through_a_keep_alive_server(
    repo_at: Any, keep_alive_proxy: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", keep_alive_proxy)
    check_forked_reads(repo_at("run/artifacts"), tmp_path, reads=100)
