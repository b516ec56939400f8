"""Hook implementations of tracklet-file: local folders, plain paths and ``file:`` URIs."""

from __future__ import annotations

import os

from tracklet.plugins import Scheme, hookimpl
from tracklet.uri import path_to_file_uri


@hookimpl
def tracklet_schemes() -> list[Scheme]:
    store = "tracklet_file.store:FileStore"
    repo = "tracklet_file.artifacts:LocalArtifactRepository"
    return [
        Scheme("tracking", "", store),
        Scheme("tracking", "file", store),
        Scheme("artifacts", "", repo),
        Scheme("artifacts", "file", repo),
    ]


@hookimpl(trylast=True)
def tracklet_default_tracking_uri() -> str:
    return path_to_file_uri(os.path.join(os.getcwd(), "mlruns"))
