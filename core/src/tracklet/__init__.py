"""tracklet: MLflow's tracking API, faster and lighter, with any storage through plugins.

``import tracklet as mlflow`` runs code written for MLflow's tracking API. Nothing is
loaded at import time: names resolve on first use, plugins load when a store is needed.

The public names are listed once in ``__all__``; ``_LAZY`` says which module each comes
from at run time and the ``TYPE_CHECKING`` block re-exports them for type checkers
(``import tracklet`` type-checks under ``mypy --strict``). core/tests/test_public_api.py
checks that the three agree.
"""

from __future__ import annotations

import importlib

# Not ``typing.TYPE_CHECKING``: importing typing would cost ``import tracklet`` several
# milliseconds. Type checkers treat any name TYPE_CHECKING as true.
TYPE_CHECKING = False

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "active_run",
    "ActiveRun",
    "add_trace",
    "artifacts",
    "async_logging",
    "autolog",
    "Client",
    "client",
    "config",
    "create_experiment",
    "create_external_model",
    "data",
    "delete_experiment",
    "delete_experiment_tag",
    "delete_logged_model_tag",
    "delete_run",
    "delete_tag",
    "delete_trace_tag",
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "end_run",
    "entities",
    "exceptions",
    "finalize_logged_model",
    "fluent",
    "flush_artifact_async_logging",
    "flush_async_logging",
    "flush_trace_async_logging",
    "get_active_trace_id",
    "get_artifact_uri",
    "get_current_active_span",
    "get_experiment",
    "get_experiment_by_name",
    "get_last_active_trace_id",
    "get_logged_model",
    "get_parent_run",
    "get_registry_uri",
    "get_run",
    "get_trace",
    "get_tracking_uri",
    "hookspecs",
    "Image",
    "initialize_logged_model",
    "is_tracking_uri_set",
    "keras",
    "last_active_run",
    "last_logged_model",
    "lightgbm",
    "list_artifacts",
    "load_table",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_inputs",
    "log_metric",
    "log_metrics",
    "log_model_params",
    "log_param",
    "log_params",
    "log_stream",
    "log_table",
    "log_text",
    "log_trace",
    "MlflowClient",
    "MlflowException",
    "models",
    "multimedia",
    "plugins",
    "pyfunc",
    "pytorch",
    "register_model",
    "restore_experiment",
    "restore_run",
    "RunOperations",
    "search",
    "search_experiments",
    "search_logged_models",
    "search_model_versions",
    "search_registered_models",
    "search_runs",
    "search_traces",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_logged_model_tags",
    "set_registry_uri",
    "set_tag",
    "set_tags",
    "set_trace_tag",
    "set_tracking_uri",
    "sklearn",
    "start_run",
    "start_span",
    "start_span_no_context",
    "stores",
    "testing",
    "trace",
    "tracing",
    "tracking",
    "TrackletException",
    "transformers",
    "update_current_trace",
    "uri",
    "utils",
    "validation",
    "xgboost",
]

#: Public name -> ``"module"`` (attribute of the same name) or ``"module:attribute"``.
_LAZY: dict[str, str] = {
    "RunOperations": "tracklet.async_logging",
    "ActiveRun": "tracklet.fluent",
    "active_run": "tracklet.fluent",
    "create_experiment": "tracklet.fluent",
    "delete_experiment": "tracklet.fluent",
    "delete_experiment_tag": "tracklet.fluent",
    "flush_artifact_async_logging": "tracklet.fluent",
    "flush_async_logging": "tracklet.fluent",
    "log_stream": "tracklet.fluent",
    "restore_experiment": "tracklet.fluent",
    "restore_run": "tracklet.fluent",
    "delete_run": "tracklet.fluent",
    "delete_tag": "tracklet.fluent",
    "end_run": "tracklet.fluent",
    "get_artifact_uri": "tracklet.fluent",
    "get_experiment": "tracklet.fluent",
    "get_experiment_by_name": "tracklet.fluent",
    "get_parent_run": "tracklet.fluent",
    "get_run": "tracklet.fluent",
    "last_active_run": "tracklet.fluent",
    "list_artifacts": "tracklet.fluent",
    "load_table": "tracklet.fluent",
    "log_artifact": "tracklet.fluent",
    "log_artifacts": "tracklet.fluent",
    "log_dict": "tracklet.fluent",
    "log_figure": "tracklet.fluent",
    "log_image": "tracklet.fluent",
    "log_input": "tracklet.fluent",
    "log_inputs": "tracklet.fluent",
    "log_metric": "tracklet.fluent",
    "log_metrics": "tracklet.fluent",
    "log_param": "tracklet.fluent",
    "log_params": "tracklet.fluent",
    "log_table": "tracklet.fluent",
    "log_text": "tracklet.fluent",
    "search_experiments": "tracklet.fluent",
    "search_runs": "tracklet.fluent",
    "set_experiment": "tracklet.fluent",
    "set_experiment_tag": "tracklet.fluent",
    "set_experiment_tags": "tracklet.fluent",
    "set_tag": "tracklet.fluent",
    "set_tags": "tracklet.fluent",
    "start_run": "tracklet.fluent",
    "start_span": "tracklet._tracing",
    "trace": "tracklet._tracing",
    "get_trace": "tracklet._tracing",
    "search_traces": "tracklet._tracing",
    "get_current_active_span": "tracklet._tracing",
    "get_last_active_trace_id": "tracklet._tracing",
    "update_current_trace": "tracklet._tracing",
    "log_trace": "tracklet._tracing",
    "get_active_trace_id": "tracklet._tracing",
    "add_trace": "tracklet._tracing",
    "set_trace_tag": "tracklet._tracing",
    "delete_trace_tag": "tracklet._tracing",
    "start_span_no_context": "tracklet._tracing",
    "flush_trace_async_logging": "tracklet._tracing",
    "set_tracking_uri": "tracklet._config",
    "get_tracking_uri": "tracklet._config",
    "is_tracking_uri_set": "tracklet._config",
    "set_registry_uri": "tracklet._config",
    "get_registry_uri": "tracklet._config",
    "autolog": "tracklet._autolog",
    "disable_system_metrics_logging": "tracklet._autolog",
    "enable_system_metrics_logging": "tracklet._autolog",
    "MlflowClient": "tracklet.client",
    "Client": "tracklet.client:MlflowClient",
    "MlflowException": "tracklet.exceptions",
    "TrackletException": "tracklet.exceptions",
    "Image": "tracklet.multimedia",
    "create_external_model": "tracklet._registry_fluent",
    "delete_logged_model_tag": "tracklet._registry_fluent",
    "finalize_logged_model": "tracklet._registry_fluent",
    "get_logged_model": "tracklet._registry_fluent",
    "initialize_logged_model": "tracklet._registry_fluent",
    "last_logged_model": "tracklet._registry_fluent",
    "log_model_params": "tracklet._registry_fluent",
    "register_model": "tracklet._registry_fluent",
    "search_logged_models": "tracklet._registry_fluent",
    "search_model_versions": "tracklet._registry_fluent",
    "search_registered_models": "tracklet._registry_fluent",
    "set_logged_model_tags": "tracklet._registry_fluent",
}
_SUBMODULES = frozenset(
    {
        "artifacts",
        "async_logging",
        "config",
        "client",
        "data",
        "entities",
        "exceptions",
        "fluent",
        "hookspecs",
        "keras",
        "lightgbm",
        "models",
        "multimedia",
        "plugins",
        "pyfunc",
        "pytorch",
        "search",
        "sklearn",
        "stores",
        "testing",
        "tracing",
        "tracking",
        "transformers",
        "uri",
        "utils",
        "validation",
        "xgboost",
    }
)


if not TYPE_CHECKING:  # hidden from type checkers, so a misspelled name is an error there

    def __getattr__(name: str) -> Any:
        if name in _LAZY:
            module_name, _, attr = _LAZY[name].partition(":")
            value = getattr(importlib.import_module(module_name), attr or name)
        elif name in _SUBMODULES:
            value = importlib.import_module(f"tracklet.{name}")
        else:
            raise AttributeError(f"module 'tracklet' has no attribute {name!r}")
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return list(__all__)


if TYPE_CHECKING:
    from typing import Any

    from tracklet import artifacts as artifacts
    from tracklet import async_logging as async_logging
    from tracklet import client as client
    from tracklet import config as config
    from tracklet import data as data
    from tracklet import entities as entities
    from tracklet import exceptions as exceptions
    from tracklet import fluent as fluent
    from tracklet import hookspecs as hookspecs
    from tracklet import keras as keras
    from tracklet import lightgbm as lightgbm
    from tracklet import models as models
    from tracklet import multimedia as multimedia
    from tracklet import plugins as plugins
    from tracklet import pyfunc as pyfunc
    from tracklet import pytorch as pytorch
    from tracklet import search as search
    from tracklet import sklearn as sklearn
    from tracklet import stores as stores
    from tracklet import testing as testing
    from tracklet import tracing as tracing
    from tracklet import tracking as tracking
    from tracklet import transformers as transformers
    from tracklet import uri as uri
    from tracklet import utils as utils
    from tracklet import validation as validation
    from tracklet import xgboost as xgboost
    from tracklet._autolog import autolog as autolog
    from tracklet._autolog import disable_system_metrics_logging as disable_system_metrics_logging
    from tracklet._autolog import enable_system_metrics_logging as enable_system_metrics_logging
    from tracklet._config import get_registry_uri as get_registry_uri
    from tracklet._config import get_tracking_uri as get_tracking_uri
    from tracklet._config import is_tracking_uri_set as is_tracking_uri_set
    from tracklet._config import set_registry_uri as set_registry_uri
    from tracklet._config import set_tracking_uri as set_tracking_uri
    from tracklet._registry_fluent import create_external_model as create_external_model
    from tracklet._registry_fluent import delete_logged_model_tag as delete_logged_model_tag
    from tracklet._registry_fluent import finalize_logged_model as finalize_logged_model
    from tracklet._registry_fluent import get_logged_model as get_logged_model
    from tracklet._registry_fluent import initialize_logged_model as initialize_logged_model
    from tracklet._registry_fluent import last_logged_model as last_logged_model
    from tracklet._registry_fluent import log_model_params as log_model_params
    from tracklet._registry_fluent import register_model as register_model
    from tracklet._registry_fluent import search_logged_models as search_logged_models
    from tracklet._registry_fluent import search_model_versions as search_model_versions
    from tracklet._registry_fluent import search_registered_models as search_registered_models
    from tracklet._registry_fluent import set_logged_model_tags as set_logged_model_tags
    from tracklet._tracing import add_trace as add_trace
    from tracklet._tracing import delete_trace_tag as delete_trace_tag
    from tracklet._tracing import flush_trace_async_logging as flush_trace_async_logging
    from tracklet._tracing import get_active_trace_id as get_active_trace_id
    from tracklet._tracing import get_current_active_span as get_current_active_span
    from tracklet._tracing import get_last_active_trace_id as get_last_active_trace_id
    from tracklet._tracing import get_trace as get_trace
    from tracklet._tracing import log_trace as log_trace
    from tracklet._tracing import search_traces as search_traces
    from tracklet._tracing import set_trace_tag as set_trace_tag
    from tracklet._tracing import start_span as start_span
    from tracklet._tracing import start_span_no_context as start_span_no_context
    from tracklet._tracing import trace as trace
    from tracklet._tracing import update_current_trace as update_current_trace
    from tracklet.async_logging import RunOperations as RunOperations
    from tracklet.client import MlflowClient as Client
    from tracklet.client import MlflowClient as MlflowClient
    from tracklet.exceptions import MlflowException as MlflowException
    from tracklet.exceptions import TrackletException as TrackletException
    from tracklet.fluent import ActiveRun as ActiveRun
    from tracklet.fluent import active_run as active_run
    from tracklet.fluent import create_experiment as create_experiment
    from tracklet.fluent import delete_experiment as delete_experiment
    from tracklet.fluent import delete_experiment_tag as delete_experiment_tag
    from tracklet.fluent import delete_run as delete_run
    from tracklet.fluent import delete_tag as delete_tag
    from tracklet.fluent import end_run as end_run
    from tracklet.fluent import flush_artifact_async_logging as flush_artifact_async_logging
    from tracklet.fluent import flush_async_logging as flush_async_logging
    from tracklet.fluent import get_artifact_uri as get_artifact_uri
    from tracklet.fluent import get_experiment as get_experiment
    from tracklet.fluent import get_experiment_by_name as get_experiment_by_name
    from tracklet.fluent import get_parent_run as get_parent_run
    from tracklet.fluent import get_run as get_run
    from tracklet.fluent import last_active_run as last_active_run
    from tracklet.fluent import list_artifacts as list_artifacts
    from tracklet.fluent import load_table as load_table
    from tracklet.fluent import log_artifact as log_artifact
    from tracklet.fluent import log_artifacts as log_artifacts
    from tracklet.fluent import log_dict as log_dict
    from tracklet.fluent import log_figure as log_figure
    from tracklet.fluent import log_image as log_image
    from tracklet.fluent import log_input as log_input
    from tracklet.fluent import log_inputs as log_inputs
    from tracklet.fluent import log_metric as log_metric
    from tracklet.fluent import log_metrics as log_metrics
    from tracklet.fluent import log_param as log_param
    from tracklet.fluent import log_params as log_params
    from tracklet.fluent import log_stream as log_stream
    from tracklet.fluent import log_table as log_table
    from tracklet.fluent import log_text as log_text
    from tracklet.fluent import restore_experiment as restore_experiment
    from tracklet.fluent import restore_run as restore_run
    from tracklet.fluent import search_experiments as search_experiments
    from tracklet.fluent import search_runs as search_runs
    from tracklet.fluent import set_experiment as set_experiment
    from tracklet.fluent import set_experiment_tag as set_experiment_tag
    from tracklet.fluent import set_experiment_tags as set_experiment_tags
    from tracklet.fluent import set_tag as set_tag
    from tracklet.fluent import set_tags as set_tags
    from tracklet.fluent import start_run as start_run
    from tracklet.multimedia import Image as Image
