"""Client methods whose backends ship in other plugins: the model registry and tracing.

Registry calls go to the registry store a plugin builds for the registry URI; with
no such plugin installed they raise ``FEATURE_DISABLED`` naming the package to install.
Tracing has no store contract yet: its methods raise a clear ``NOT_IMPLEMENTED``.

Every method is declared with ``MlflowClient``'s parameter names (MLflow 3.17), so user
code calling them type-checks, and a misspelled argument fails as it would in MLflow.
"""

from __future__ import annotations

from typing import Any, NoReturn

from tracklet import _config, plugins
from tracklet._tracing import tracing_unavailable

__all__ = ["REGISTRY_METHODS", "TRACE_METHODS", "RegistryAndTracingMixin"]

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

#: MLflow's defaults (``mlflow.store.model_registry``, ``mlflow.tracking._model_registry``).
SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT = 100
SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT = 10_000
DEFAULT_AWAIT_MAX_SLEEP_SECONDS = 300
SEARCH_TRACES_DEFAULT_MAX_RESULTS = 100


def _no_tracing(method: str) -> NoReturn:
    raise tracing_unavailable(f"MlflowClient.{method}")


class RegistryAndTracingMixin:
    """Adds the registry and tracing methods of ``MlflowClient``."""

    _registry_uri: str | None
    _tracking_uri: str

    def _registry_call(self, method: str, *args: Any, **newer: Any) -> Any:
        """Call ``method`` on the registry store of this client's registry URI.

        ``newer`` holds the arguments MLflow 3 added (``deployment_job_id``, ``model_id``);
        they are passed by keyword, and only when given, to stores written to the older
        contract.
        """
        registry_uri = self._registry_uri or _config.get_registry_uri()
        store = plugins.get_registry_store(registry_uri, self._tracking_uri)
        given = {key: value for key, value in newer.items() if value is not None}
        return getattr(store, method)(*args, **given)

    # -- model registry (served by the tracklet-registry plugin) ---------------------------

    def create_registered_model(
        self,
        name: str,
        tags: dict[str, Any] | None = None,
        description: str | None = None,
        deployment_job_id: str | None = None,
    ) -> Any:
        """Model registry: create a registered model."""
        return self._registry_call(
            "create_registered_model", name, tags, description, deployment_job_id=deployment_job_id
        )

    def rename_registered_model(self, name: str, new_name: str) -> Any:
        """Model registry: rename a registered model."""
        return self._registry_call("rename_registered_model", name, new_name)

    def update_registered_model(
        self, name: str, description: str | None = None, deployment_job_id: str | None = None
    ) -> Any:
        """Model registry: change a registered model's description."""
        return self._registry_call(
            "update_registered_model", name, description, deployment_job_id=deployment_job_id
        )

    def delete_registered_model(self, name: str) -> None:
        """Model registry: delete a registered model and its versions."""
        self._registry_call("delete_registered_model", name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> Any:
        """Model registry: registered models matching a filter, one page."""
        return self._registry_call(
            "search_registered_models", filter_string, max_results, order_by, page_token
        )

    def get_registered_model(self, name: str) -> Any:
        """Model registry: one registered model by name."""
        return self._registry_call("get_registered_model", name)

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[Any]:
        """Model registry: the latest version per stage."""
        return self._registry_call("get_latest_versions", name, stages)  # type: ignore[no-any-return]

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        """Model registry: set a tag on a registered model."""
        self._registry_call("set_registered_model_tag", name, key, value)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Model registry: delete a tag of a registered model."""
        self._registry_call("delete_registered_model_tag", name, key)

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        await_creation_for: int = DEFAULT_AWAIT_MAX_SLEEP_SECONDS,
        model_id: str | None = None,
    ) -> Any:
        """Model registry: register a new version of a model from ``source``."""
        return self._registry_call(
            "create_model_version",
            name,
            source,
            run_id,
            tags,
            run_link,
            description,
            await_creation_for,
            model_id=model_id,
        )

    def copy_model_version(self, src_model_uri: str, dst_name: str) -> Any:
        """Model registry: copy a model version to another registered model."""
        return self._registry_call("copy_model_version", src_model_uri, dst_name)

    def update_model_version(self, name: str, version: str, description: str | None = None) -> Any:
        """Model registry: change a model version's description."""
        return self._registry_call("update_model_version", name, version, description)

    def transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool = False
    ) -> Any:
        """Model registry: move a model version to a stage."""
        return self._registry_call(
            "transition_model_version_stage", name, version, stage, archive_existing_versions
        )

    def delete_model_version(self, name: str, version: str) -> None:
        """Model registry: delete a model version."""
        self._registry_call("delete_model_version", name, version)

    def get_model_version(self, name: str, version: str) -> Any:
        """Model registry: one model version."""
        return self._registry_call("get_model_version", name, version)

    def get_model_version_download_uri(self, name: str, version: str) -> str:
        """Model registry: where a model version's files are."""
        return self._registry_call("get_model_version_download_uri", name, version)  # type: ignore[no-any-return]

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> Any:
        """Model registry: model versions matching a filter, one page."""
        return self._registry_call("search_model_versions", filter_string, max_results, order_by, page_token)

    def get_model_version_stages(self, name: str, version: str) -> list[str]:
        """Model registry: the stages a model version may move to."""
        return self._registry_call("get_model_version_stages", name, version)  # type: ignore[no-any-return]

    def set_model_version_tag(
        self,
        name: str,
        version: str | None = None,
        key: str | None = None,
        value: Any = None,
        stage: str | None = None,
    ) -> None:
        """Model registry: set a tag on a model version."""
        self._registry_call("set_model_version_tag", name, version, key, value, stage)

    def delete_model_version_tag(
        self, name: str, version: str | None = None, key: str | None = None, stage: str | None = None
    ) -> None:
        """Model registry: delete a tag of a model version."""
        self._registry_call("delete_model_version_tag", name, version, key, stage)

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        """Model registry: point an alias of a registered model at a version."""
        self._registry_call("set_registered_model_alias", name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Model registry: delete an alias of a registered model."""
        self._registry_call("delete_registered_model_alias", name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> Any:
        """Model registry: the model version an alias points at."""
        return self._registry_call("get_model_version_by_alias", name, alias)

    # -- tracing (not available yet: NOT_IMPLEMENTED) ---------------------------------------

    def start_trace(
        self,
        name: str,
        span_type: str = "UNKNOWN",
        inputs: Any | None = None,
        attributes: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        experiment_id: str | None = None,
        start_time_ns: int | None = None,
        run_id: str | None = None,
        links: list[Any] | None = None,
    ) -> Any:
        """Tracing: start a trace (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("start_trace")

    def end_trace(
        self,
        trace_id: str,
        outputs: Any | None = None,
        attributes: dict[str, Any] | None = None,
        status: Any = "OK",
        end_time_ns: int | None = None,
    ) -> None:
        """Tracing: end a trace (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("end_trace")

    def get_trace(self, trace_id: str, display: bool = True, flush: bool = False) -> Any:
        """Tracing: one trace by id (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("get_trace")

    def search_traces(
        self,
        experiment_ids: list[str] | None = None,
        filter_string: str | None = None,
        max_results: int = SEARCH_TRACES_DEFAULT_MAX_RESULTS,
        order_by: list[str] | None = None,
        page_token: str | None = None,
        run_id: str | None = None,
        include_spans: bool = True,
        model_id: str | None = None,
        locations: list[str] | None = None,
        flush: bool = False,
    ) -> Any:
        """Tracing: search traces (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("search_traces")

    def delete_traces(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: list[str] | None = None,
    ) -> int:
        """Tracing: delete traces (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("delete_traces")

    def start_span(
        self,
        name: str,
        trace_id: str,
        parent_id: str,
        span_type: str = "UNKNOWN",
        inputs: Any | None = None,
        attributes: dict[str, Any] | None = None,
        start_time_ns: int | None = None,
        links: list[Any] | None = None,
    ) -> Any:
        """Tracing: start a span (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("start_span")

    def end_span(
        self,
        trace_id: str,
        span_id: str,
        outputs: Any | None = None,
        attributes: dict[str, Any] | None = None,
        status: Any = "OK",
        end_time_ns: int | None = None,
    ) -> None:
        """Tracing: end a span (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("end_span")

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        """Tracing: set a tag on a trace (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("set_trace_tag")

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        """Tracing: delete a tag of a trace (not available yet; raises NOT_IMPLEMENTED)."""
        _no_tracing("delete_trace_tag")
