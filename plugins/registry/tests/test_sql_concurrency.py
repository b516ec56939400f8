"""Processes registering versions of one model at once get 1..N: no gap, no duplicate, no
error, on sqlite, PostgreSQL and MariaDB (each process with its own store)."""

from __future__ import annotations

import multiprocessing
from typing import Any

from tracklet.entities.model_registry import ModelVersionTag
from tracklet_registry.sql.store import SqlRegistryStore

_PROCESSES = 8
_EACH = 6


def _register(uri: str, barrier: Any, queue: Any, worker: int) -> None:
    try:
        store = SqlRegistryStore(uri)  # the process's own store (and engine)
        barrier.wait()
        versions = [
            str(
                store.create_model_version(
                    "shared", f"s3://bucket/w{worker}/{i}", tags=[ModelVersionTag("worker", str(worker))]
                ).version
            )
            for i in range(_EACH)
        ]
        queue.put((worker, versions))
    except BaseException as exc:  # report, never hang the parent
        queue.put((worker, repr(exc)))


def test_processes_number_versions_of_one_model_without_gaps(sql_registry_uri: str) -> None:
    store = SqlRegistryStore(sql_registry_uri)
    store.create_registered_model("shared")
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(_PROCESSES)
    queue = context.Queue()
    workers = [
        context.Process(target=_register, args=(sql_registry_uri, barrier, queue, w))
        for w in range(_PROCESSES)
    ]
    for process in workers:
        process.start()
    results = [queue.get(timeout=300) for _ in workers]
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0

    errors = [r for r in results if not isinstance(r[1], list)]
    assert not errors, errors
    total = _PROCESSES * _EACH
    assert sorted(int(v) for _, versions in results for v in versions) == list(range(1, total + 1))
    stored = store.search_model_versions("name = 'shared'", max_results=1000)
    assert sorted(int(v.version) for v in stored) == list(range(1, total + 1))
    by_source = {v.source: (str(v.version), v.tags) for v in stored}
    for worker, versions in results:
        for i, version in enumerate(versions):
            assert by_source[f"s3://bucket/w{worker}/{i}"] == (version, {"worker": str(worker)})
    assert str(store.create_model_version("shared", "s3://bucket/last").version) == str(total + 1)
