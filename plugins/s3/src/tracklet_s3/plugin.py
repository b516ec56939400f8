"""Hook implementations of tracklet-s3: the ``s3`` artifact scheme."""

from __future__ import annotations

from tracklet.plugins import Scheme, hookimpl


@hookimpl
def tracklet_schemes() -> list[Scheme]:
    return [Scheme("artifacts", "s3", "tracklet_s3.artifacts:S3ArtifactRepository")]
