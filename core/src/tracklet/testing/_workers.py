"""What the processes of the ``concurrent_processes`` tests run.

Spawned children import this module by name, so it holds plain top-level functions
whose arguments pickle: a ``"module:Class"`` target and the URIs to rebuild the store.
"""

from __future__ import annotations

import importlib

from tracklet.entities import Metric, Param, RunTag
from tracklet.exceptions import RESOURCE_ALREADY_EXISTS, TrackletException
from tracklet.stores import TrackingStore
from tracklet.testing._support import T0

#: (``"module:Class"``, store_uri, artifact_uri): how another process opens the same store.
StoreSpec = tuple[str, str | None, str | None]


def open_store(spec: StoreSpec) -> TrackingStore:
    """Build the store ``spec`` names, the way the core builds a store for a URI."""
    target, store_uri, artifact_uri = spec
    module_name, _, qualname = target.partition(":")
    factory: object = importlib.import_module(module_name)
    for part in qualname.split("."):
        factory = getattr(factory, part)
    store = factory(store_uri=store_uri, artifact_uri=artifact_uri)  # type: ignore[operator]
    if not isinstance(store, TrackingStore):
        raise TypeError(f"{target} built {store!r}, not a TrackingStore")
    return store


def log_points(spec: StoreSpec, run_id: str, worker: int, points: int) -> None:
    """Log ``points`` steps to one shared run: a shared metric, an own metric, a tag,
    and a param every tenth step."""
    store = open_store(spec)
    try:
        for i in range(points):
            store.log_batch(
                run_id,
                [
                    Metric("shared", float(worker * 1000 + i), T0 + i, i),
                    Metric(f"own_{worker}", float(i), T0 + i, i),
                ],
                [Param(f"p{worker}_{i}", str(i))] if i % 10 == 0 else [],
                [RunTag(f"t{worker}", str(i))],
            )
    finally:
        store.close()


def create_experiments(spec: StoreSpec, worker: int, count: int) -> list[str]:
    """Create ``count`` experiments of our own, then race for the name ``shared``;
    the winner's id comes back prefixed ``shared:``."""
    store = open_store(spec)
    try:
        ids = [store.create_experiment(f"worker-{worker}-{i}") for i in range(count)]
        try:
            ids.append("shared:" + store.create_experiment("shared"))
        except TrackletException as error:
            if error.error_code != RESOURCE_ALREADY_EXISTS:
                raise
        return ids
    finally:
        store.close()


def create_runs(spec: StoreSpec, experiment_id: str, worker: int, count: int) -> list[str]:
    """Create ``count`` runs in one shared experiment and return their ids."""
    store = open_store(spec)
    try:
        return [
            store.create_run(experiment_id, f"worker-{worker}", T0 + i, [], f"w{worker}-{i}").info.run_id
            for i in range(count)
        ]
    finally:
        store.close()
