"""Hook implementations of tracklet-gcs: the Google Cloud Storage artifact repository."""

from __future__ import annotations

from tracklet.plugins import Scheme, hookimpl


@hookimpl
def tracklet_schemes() -> list[Scheme]:
    return [Scheme("artifacts", "gs", "tracklet_gcs.artifacts:GCSArtifactRepository")]
