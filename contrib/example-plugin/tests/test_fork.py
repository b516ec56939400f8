"""The in-memory store and repository in a child forked while another thread of the
parent held their lock: the child works on its copy of the parent's memory."""

import os

import pytest

from tracklet.testing import held_by_another_thread, in_forked_child
from tracklet_example import artifacts
from tracklet_example.store import MemoryTrackingStore

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() does not exist on this platform")


def test_the_store_lock_held_at_the_fork():
    store = MemoryTrackingStore()
    experiment_id = store.create_experiment("before the fork")

    def in_child():
        return store.get_experiment(experiment_id).name, store.get_experiment(
            store.create_experiment("e")
        ).name

    with held_by_another_thread(store._lock):
        assert in_forked_child(in_child, timeout=20) == ("before the fork", "e")


def test_the_artifact_bucket_lock_held_at_the_fork(tmp_path):
    repo = artifacts.MemoryArtifactRepository("memory://fork-test/artifacts")
    (tmp_path / "f.txt").write_text("hello")

    def in_child():
        repo.log_artifact(str(tmp_path / "f.txt"))
        return [f.path for f in repo.list_artifacts()]

    with held_by_another_thread(artifacts._bucket_lock):
        assert in_forked_child(in_child, timeout=20) == ["f.txt"]
    assert repo.list_artifacts() == []  # the child's copy was the child's
