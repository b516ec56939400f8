"""Hook implementations of tracklet-example: which URI schemes it serves.

The targets are strings, so nothing below is imported until a ``memory://`` URI is
used. tracklet builds ``MemoryTrackingStore(store_uri=..., artifact_uri=...)`` for
tracking URIs and ``MemoryArtifactRepository(artifact_uri)`` for artifact URIs.
"""

from __future__ import annotations

from tracklet.plugins import Scheme, hookimpl


@hookimpl
def tracklet_schemes() -> list[Scheme]:
    """``memory://<name>`` as a tracking store and as an artifact location."""
    return [
        Scheme("tracking", "memory", "tracklet_example.store:MemoryTrackingStore"),
        Scheme("artifacts", "memory", "tracklet_example.artifacts:MemoryArtifactRepository"),
    ]
