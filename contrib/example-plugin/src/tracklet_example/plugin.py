"""Hook implementations of tracklet-example: which URI schemes it serves, and one
route it adds to ``tracklet server``.

The targets are strings, so nothing below is imported until a ``memory://`` URI is
used. tracklet builds ``MemoryTrackingStore(store_uri=..., artifact_uri=...)`` for
tracking URIs and ``MemoryArtifactRepository(artifact_uri)`` for artifact URIs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracklet.plugins import Scheme, hookimpl

if TYPE_CHECKING:
    # only for the annotation: every process loads this plugin, few ever serve its route
    from tracklet.routes import Route


@hookimpl
def tracklet_schemes() -> list[Scheme]:
    """``memory://<name>`` as a tracking store and as an artifact location."""
    return [
        Scheme("tracking", "memory", "tracklet_example.store:MemoryTrackingStore"),
        Scheme("artifacts", "memory", "tracklet_example.artifacts:MemoryArtifactRepository"),
    ]


@hookimpl
def tracklet_server_routes() -> list[Route]:
    """One REST route for ``tracklet server`` (see :mod:`tracklet_example.routes`)."""
    from tracklet_example.routes import routes

    return routes()
