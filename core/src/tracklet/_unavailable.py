"""Client methods whose backends ship in other plugins: the model registry and tracing.

Registry calls go to the registry store a plugin builds for the registry URI; with
no such plugin installed they raise ``FEATURE_DISABLED`` naming the package to install.
Tracing has no store contract yet: its methods raise a clear ``NOT_IMPLEMENTED``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracklet import _config, plugins
from tracklet._tracing import tracing_unavailable

REGISTRY_METHODS = (
    "create_registered_model",
    "rename_registered_model",
    "update_registered_model",
    "delete_registered_model",
    "search_registered_models",
    "get_registered_model",
    "get_latest_versions",
    "set_registered_model_tag",
    "delete_registered_model_tag",
    "create_model_version",
    "copy_model_version",
    "update_model_version",
    "transition_model_version_stage",
    "delete_model_version",
    "get_model_version",
    "get_model_version_download_uri",
    "search_model_versions",
    "get_model_version_stages",
    "set_model_version_tag",
    "delete_model_version_tag",
    "set_registered_model_alias",
    "delete_registered_model_alias",
    "get_model_version_by_alias",
)
TRACE_METHODS = (
    "start_trace",
    "end_trace",
    "get_trace",
    "search_traces",
    "delete_traces",
    "start_span",
    "end_span",
    "set_trace_tag",
    "delete_trace_tag",
)


def _registry_method(name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        registry_uri = self._registry_uri or _config.get_registry_uri()
        store = plugins.get_registry_store(registry_uri, self._tracking_uri)
        return getattr(store, name)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"Model registry: ``{name}`` (served by the tracklet-registry plugin)."
    return method


def _trace_method(name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise tracing_unavailable(f"MlflowClient.{name}")

    method.__name__ = name
    method.__doc__ = f"Tracing: ``{name}`` (not available yet; raises NOT_IMPLEMENTED)."
    return method


class RegistryAndTracingMixin:
    """Adds the registry and tracing methods of ``MlflowClient``."""

    _registry_uri: str | None


for _name in REGISTRY_METHODS:
    setattr(RegistryAndTracingMixin, _name, _registry_method(_name))
for _name in TRACE_METHODS:
    setattr(RegistryAndTracingMixin, _name, _trace_method(_name))
