"""The file registry store: registered models, versions and logged models in an ``mlruns``
folder, in MLflow's layout."""

from __future__ import annotations

from tracklet_registry.file.store import FileRegistryStore

__all__ = ["FileRegistryStore"]
