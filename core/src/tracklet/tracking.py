"""``tracklet.tracking``: the client and the tracking URI, as in ``mlflow.tracking``."""

from tracklet._config import get_registry_uri, get_tracking_uri, set_registry_uri, set_tracking_uri
from tracklet.client import MlflowClient

__all__ = ["MlflowClient", "get_registry_uri", "get_tracking_uri", "set_registry_uri", "set_tracking_uri"]
