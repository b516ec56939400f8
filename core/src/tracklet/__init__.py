"""tracklet: MLflow's tracking API, faster and lighter, with any storage through plugins.

``import tracklet as mlflow`` runs code written for MLflow's tracking API. Nothing is
loaded at import time: names resolve on first use, plugins load when a store is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_FLUENT = (
    "ActiveRun",
    "active_run",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_parent_run",
    "get_run",
    "last_active_run",
    "list_artifacts",
    "load_table",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "start_run",
)
_LAZY: dict[str, tuple[str, str]] = {
    **{name: ("tracklet.fluent", name) for name in _FLUENT},
    **{
        name: ("tracklet._tracing", name)
        for name in (
            "start_span",
            "trace",
            "get_trace",
            "search_traces",
            "get_current_active_span",
            "get_last_active_trace_id",
            "update_current_trace",
            "log_trace",
        )
    },
    "MlflowClient": ("tracklet.client", "MlflowClient"),
    "Client": ("tracklet.client", "MlflowClient"),
    "MlflowException": ("tracklet.exceptions", "MlflowException"),
    "TrackletException": ("tracklet.exceptions", "TrackletException"),
    "Image": ("tracklet.multimedia", "Image"),
    "set_tracking_uri": ("tracklet._config", "set_tracking_uri"),
    "get_tracking_uri": ("tracklet._config", "get_tracking_uri"),
    "is_tracking_uri_set": ("tracklet._config", "is_tracking_uri_set"),
    "set_registry_uri": ("tracklet._config", "set_registry_uri"),
    "get_registry_uri": ("tracklet._config", "get_registry_uri"),
}
_SUBMODULES = frozenset(
    {
        "artifacts",
        "client",
        "entities",
        "exceptions",
        "fluent",
        "plugins",
        "search",
        "stores",
        "testing",
        "tracking",
        "validation",
        "hookspecs",
        "uri",
        "multimedia",
    }
)

__all__ = sorted([*_LAZY, *_SUBMODULES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module_name, attr = _LAZY[name]
        value = getattr(importlib.import_module(module_name), attr)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"tracklet.{name}")
    else:
        raise AttributeError(f"module 'tracklet' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from tracklet import artifacts, entities, exceptions, plugins, stores, tracking, validation
    from tracklet._config import (
        get_registry_uri,
        get_tracking_uri,
        is_tracking_uri_set,
        set_registry_uri,
        set_tracking_uri,
    )
    from tracklet.client import MlflowClient
    from tracklet.client import MlflowClient as Client
    from tracklet.exceptions import MlflowException, TrackletException
    from tracklet.fluent import *  # noqa: F403
    from tracklet.multimedia import Image
