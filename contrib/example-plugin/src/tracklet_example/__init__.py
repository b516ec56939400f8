"""tracklet-example: an in-memory tracking store and artifact repository (``memory://``).

The template for a third-party store plugin. The modules, each with one job:

* :mod:`tracklet_example.plugin` — the hook implementations tracklet loads through the
  ``tracklet`` entry point; it only *names* the store classes, so loading it is free;
* :mod:`tracklet_example.store` — :class:`~tracklet_example.store.MemoryTrackingStore`;
* :mod:`tracklet_example.artifacts` —
  :class:`~tracklet_example.artifacts.MemoryArtifactRepository`.

This file imports nothing on purpose: tracklet imports the package whenever it loads
the plugin, and a plugin must stay cheap to load.
"""

__version__ = "0.1.0"
