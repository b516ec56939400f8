"""The core's own hook implementations, registered like any plugin.

They run last, so a third-party plugin's first-result hook can take over any URI.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING

from tracklet.plugins import Scheme, declared_scheme, hookimpl, load_target
from tracklet.uri import get_scheme

if TYPE_CHECKING:
    from tracklet.stores import ArtifactRepository, RegistryStore, TrackingStore


@hookimpl
def tracklet_schemes() -> list[Scheme]:
    return [Scheme("artifacts", "runs", "tracklet._runs_artifacts:RunsArtifactRepository")]


@hookimpl(trylast=True)
def tracklet_tracking_store(uri: str, artifact_uri: str | None) -> TrackingStore | None:
    declared = declared_scheme("tracking", get_scheme(uri))
    if declared is None:
        return None
    return load_target(declared.target)(store_uri=uri, artifact_uri=artifact_uri)  # type: ignore[no-any-return]


@hookimpl(trylast=True)
def tracklet_artifact_repository(uri: str, tracking_uri: str | None) -> ArtifactRepository | None:
    declared = declared_scheme("artifacts", get_scheme(uri))
    if declared is None:
        return None
    cls = load_target(declared.target)
    if tracking_uri is not None and _takes_tracking_uri(cls):
        return cls(uri, tracking_uri=tracking_uri)  # type: ignore[no-any-return]
    return cls(uri)  # type: ignore[no-any-return]


@functools.cache
def _takes_tracking_uri(cls: type) -> bool:
    """Whether a repository class's constructor has a ``tracking_uri`` parameter."""
    try:
        return "tracking_uri" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


@hookimpl(trylast=True)
def tracklet_registry_store(uri: str, tracking_uri: str | None) -> RegistryStore | None:
    declared = declared_scheme("registry", get_scheme(uri))
    if declared is None:
        return None
    return load_target(declared.target)(store_uri=uri)  # type: ignore[no-any-return]


@hookimpl(trylast=True)
def tracklet_run_context_tags() -> dict[str, str]:
    import getpass
    import os
    import sys

    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = "unknown"
    source = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "<console>"
    return {"mlflow.user": user, "mlflow.source.name": source, "mlflow.source.type": "LOCAL"}
