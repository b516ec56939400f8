"""Store contracts: the whole surface a backend plugin implements."""

from tracklet.stores.artifacts import ArtifactRepository
from tracklet.stores.objects import ListedObject, ObjectStoreRepository
from tracklet.stores.registry import LoggedModelStore, RegistryStore
from tracklet.stores.traces import TRACE_CAPABILITIES, TraceStore, no_such_trace
from tracklet.stores.tracking import CAPABILITIES, TrackingStore

__all__ = [
    "ArtifactRepository",
    "CAPABILITIES",
    "ListedObject",
    "LoggedModelStore",
    "ObjectStoreRepository",
    "RegistryStore",
    "TRACE_CAPABILITIES",
    "TraceStore",
    "TrackingStore",
    "no_such_trace",
]
