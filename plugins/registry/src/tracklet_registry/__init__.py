"""tracklet-registry: the model registry and logged models for tracklet.

Stores for the registry URIs MLflow accepts (a local ``mlruns`` folder, SQL databases,
a tracking server over HTTP) and the ``models:/`` artifact scheme. Plugged into tracklet
through the ``tracklet`` entry point group (:mod:`tracklet_registry.plugin`).
"""

from __future__ import annotations

__all__: list[str] = []
