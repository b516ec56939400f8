"""MLflow's ``mlflow.config``: process-wide settings in one place."""

from tracklet._config import (
    get_registry_uri,
    get_tracking_uri,
    is_tracking_uri_set,
    set_registry_uri,
    set_tracking_uri,
)
from tracklet.async_logging import enable_async_logging

__all__ = [
    "enable_async_logging",
    "get_registry_uri",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "set_registry_uri",
    "set_tracking_uri",
]
