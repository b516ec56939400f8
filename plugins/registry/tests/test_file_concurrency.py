"""Processes registering versions of one model at once get 1..N, no gap, no duplicate."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

import pytest

from tracklet.exceptions import TrackletException
from tracklet_registry.file import FileRegistryStore

_PROCESSES = 8
_EACH = 5


def _register(store: FileRegistryStore | str, barrier: Any, queue: Any, worker: int) -> None:
    try:
        if isinstance(store, str):  # spawned: open the folder anew
            store = FileRegistryStore(store)
        barrier.wait()
        versions = [
            str(store.create_model_version("shared", f"s3://bucket/w{worker}/{i}").version)
            for i in range(_EACH)
        ]
        queue.put((worker, versions))
    except BaseException as exc:  # report, never hang the parent
        queue.put((worker, repr(exc)))


def _run(method: str, store: FileRegistryStore, target: FileRegistryStore | str) -> list[tuple[int, Any]]:
    context = multiprocessing.get_context(method)
    barrier = context.Barrier(_PROCESSES)
    queue = context.Queue()
    workers = [context.Process(target=_register, args=(target, barrier, queue, w)) for w in range(_PROCESSES)]
    for process in workers:
        process.start()
    results = [queue.get(timeout=120) for _ in workers]
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0
    return results


def _check(store: FileRegistryStore, results: list[tuple[int, Any]]) -> None:
    errors = [r for r in results if not isinstance(r[1], list)]
    assert not errors, errors
    given = sorted(int(v) for _, versions in results for v in versions)
    total = _PROCESSES * _EACH
    assert given == list(range(1, total + 1))
    stored = [store.get_model_version("shared", str(v)) for v in range(1, total + 1)]
    with pytest.raises(TrackletException):
        store.get_model_version("shared", str(total + 1))
    by_source = {mv.source: int(mv.version) for mv in stored}
    assert len(by_source) == total  # each version holds the source its creator gave
    for worker, versions in results:
        for i, version in enumerate(versions):
            assert by_source[f"s3://bucket/w{worker}/{i}"] == int(version)


def test_forked_processes_sharing_one_store_number_versions_without_gaps(
    file_registry_store: FileRegistryStore,
) -> None:
    file_registry_store.create_registered_model("shared")
    results = _run("fork", file_registry_store, file_registry_store)
    _check(file_registry_store, results)


def test_spawned_processes_with_their_own_store_number_versions_without_gaps(
    file_registry_store: FileRegistryStore,
) -> None:
    file_registry_store.create_registered_model("shared")
    results = _run("spawn", file_registry_store, file_registry_store.root_directory)
    _check(file_registry_store, results)


def test_no_temporary_files_are_left_behind(file_registry_store: FileRegistryStore) -> None:
    file_registry_store.create_registered_model("shared")
    _run("fork", file_registry_store, file_registry_store)
    leftovers = [
        os.path.join(dirpath, name)
        for dirpath, dirnames, filenames in os.walk(file_registry_store.root_directory)
        for name in dirnames + filenames
        if name.startswith(".tmp-")
    ]
    assert leftovers == []
