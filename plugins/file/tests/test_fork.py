"""A FileStore used by a process that forks while another of its threads is inside it.

The child of a fork has one thread, the one that forked; a lock another thread held at
that moment is never released there, and a folder lock (``flock``) taken on a
descriptor the child inherited stays taken as long as the child keeps that descriptor,
whatever the parent does. Each test holds one of them in a thread of the parent, forks,
and checks the child (or the parent afterwards) is not stuck.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tracklet.entities import Metric
from tracklet.testing import held_by_another_thread, in_forked_child
from tracklet_file.store import FileStore

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() does not exist on this platform")

T0 = 1_600_000_000_000


def test_the_experiment_cache_lock(store: FileStore) -> None:
    experiment_id = store.create_experiment("e")
    store.get_experiment(experiment_id)
    with held_by_another_thread(store._experiments._read_lock):
        assert in_forked_child(lambda: store.get_experiment(experiment_id).name, timeout=20) == "e"


def test_a_runs_lock(store: FileStore) -> None:
    run_id = store.create_run("0", "me", T0, [], "r").info.run_id
    store.get_run(run_id)
    with held_by_another_thread(store._runs.meta(run_id).lock):
        assert in_forked_child(lambda: store.get_run(run_id).info.run_name, timeout=20) == "r"


def test_the_metric_appenders_lock(store: FileStore) -> None:
    run_id = store.create_run("0", "me", T0, [], "r").info.run_id
    store.log_metric(run_id, Metric("m", 1.0, T0, 0))

    def log_in_child() -> list[float]:
        store.log_metric(run_id, Metric("m", 2.0, T0, 1))
        return [m.value for m in store.get_metric_history(run_id, "m")]

    with held_by_another_thread(store._appender._lock):
        assert in_forked_child(log_in_child, timeout=20) == [1.0, 2.0]


class _FolderLock:
    """The store's inter-process folder lock, as a lock object for held_by_another_thread."""

    def __init__(self, store: FileStore) -> None:
        self._store = store
        self._held: contextlib.AbstractContextManager[Any] | None = None

    def __enter__(self) -> None:
        self._held = self._store._experiments.lock()
        self._held.__enter__()

    def __exit__(self, *exc: object) -> None:
        assert self._held is not None
        self._held.__exit__(None, None, None)


def _lock_is_free(path: str) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@contextlib.contextmanager
def _signal() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    try:
        yield read, write
    finally:
        os.close(read)
        os.close(write)


def test_the_folder_lock_goes_with_the_parents_thread_not_the_child(store: FileStore) -> None:
    lock_file = os.path.join(store.root, ".tracklet.lock")
    store.create_experiment("makes the lock file")

    def in_child(forked: int, released: int) -> bool:
        os.write(forked, b"x")
        os.read(released, 1)  # the parent's thread has let go of the lock
        return _lock_is_free(lock_file)

    with _signal() as forked, _signal() as released, concurrent.futures.ThreadPoolExecutor(1) as pool:
        with held_by_another_thread(_FolderLock(store)):
            child = pool.submit(in_forked_child, lambda: in_child(forked[1], released[0]), 20)
            os.read(forked[0], 1)
        free_in_parent = _lock_is_free(lock_file)  # while the child still lives
        os.write(released[1], b"x")
        assert child.result(timeout=60), "the child kept the lock its parent's thread held at the fork"
    assert free_in_parent, "the parent could not take its folder lock while the child lived"
    assert store.get_experiment(store.create_experiment("after")).name == "after"
