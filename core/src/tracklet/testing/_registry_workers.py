"""What the processes of the registry's ``concurrent_versions`` test run.

Spawned children import this module by name, so it holds plain top-level functions
whose arguments pickle: a ``"module:Class"`` target and the store URI to rebuild it.
"""

from __future__ import annotations

import importlib

from tracklet.stores.registry import RegistryStore

#: (``"module:Class"``, store_uri): how another process opens the same registry store.
RegistrySpec = tuple[str, str | None]


def open_registry(spec: RegistrySpec) -> RegistryStore:
    """Build the registry store ``spec`` names, as ``Class(store_uri=...)``."""
    target, store_uri = spec
    module_name, _, qualname = target.partition(":")
    factory: object = importlib.import_module(module_name)
    for part in qualname.split("."):
        factory = getattr(factory, part)
    store = factory(store_uri=store_uri)  # type: ignore[operator]
    if not isinstance(store, RegistryStore):
        raise TypeError(f"{target} built {store!r}, not a RegistryStore")
    return store


def create_versions(spec: RegistrySpec, name: str, worker: int, count: int) -> list[str]:
    """Create ``count`` versions of model ``name``; return their version numbers."""
    store = open_registry(spec)
    try:
        return [
            str(store.create_model_version(name, f"file:///worker-{worker}/{i}", run_id=None).version)
            for i in range(count)
        ]
    finally:
        store.close()
