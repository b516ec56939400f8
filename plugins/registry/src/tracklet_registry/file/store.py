"""The file registry store: the model registry and logged models in an ``mlruns`` folder,
in MLflow's layout (see :mod:`tracklet_registry.file._layout`), readable and writable by
MLflow and tracklet alike.

The public methods of :class:`~tracklet.stores.registry.RegistryStore` and
:class:`~tracklet.stores.registry.LoggedModelStore` check every argument; the primitives
here only read and write the folder. Searches read every model of the folder and filter
them with the core's in-memory registry search.
"""

from __future__ import annotations

import os
from typing import Any

from tracklet import search
from tracklet.entities import (
    LoggedModel,
    LoggedModelInput,
    LoggedModelOutput,
    LoggedModelParameter,
    LoggedModelStatus,
    LoggedModelTag,
    Metric,
    PagedList,
)
from tracklet.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)
from tracklet.stores.registry import LoggedModelStore, RegistryStore
from tracklet.uri import local_path_from_uri

from . import _import
from ._logged_models import LoggedModelFolder
from ._registry import RegistryFolder

__all__ = ["FileRegistryStore"]

#: Where the registry lives when no URI is given (MLflow's default).
DEFAULT_ROOT = "mlruns"


class FileRegistryStore(RegistryStore, LoggedModelStore):
    """Model registry and logged models in a local ``mlruns`` folder.

    :param store_uri: a plain path or a ``file:`` URI (default ``./mlruns``).
    """

    capabilities = frozenset({"logged_models", "concurrent_versions", "import"})

    def __init__(self, store_uri: str | None = None) -> None:
        uri = store_uri or DEFAULT_ROOT
        super().__init__(uri)
        self.root_directory = local_path_from_uri(uri)
        self._logged = LoggedModelFolder(self.root_directory)
        self._registry = RegistryFolder(self.root_directory, self._logged.params_and_metrics)

    # -- registered models ---------------------------------------------------------------

    def _create_registered_model(
        self,
        name: str,
        tags: list[RegisteredModelTag],
        description: str | None,
        deployment_job_id: str | None,
    ) -> RegisteredModel:
        return self._registry.create_model(name, tags, description, deployment_job_id)

    def _get_registered_model(self, name: str) -> RegisteredModel:
        return self._registry.get_model(name)

    def _update_registered_model(
        self, name: str, description: str | None, deployment_job_id: str | None
    ) -> RegisteredModel:
        return self._registry.update_model(name, description, deployment_job_id)

    def _rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return self._registry.rename_model(name, new_name)

    def _delete_registered_model(self, name: str) -> None:
        self._registry.delete_model(name)

    def _search_registered_models(
        self, filter_string: str | None, max_results: int, order_by: list[str], page_token: str | None
    ) -> PagedList[RegisteredModel]:
        return search.filter_registered_models(
            self._registry.list_models(_names_in(search.parse_registered_model_filter(filter_string))),
            filter_string=filter_string,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
        )

    def _get_latest_versions(self, name: str, stages: list[str]) -> list[ModelVersion]:
        return self._registry.latest_versions(name, stages)

    def _set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        self._registry.set_model_tag(name, tag.key, _text(tag.value))

    def _delete_registered_model_tag(self, name: str, key: str) -> None:
        self._registry.delete_model_tag(name, key)

    # -- model versions ------------------------------------------------------------------

    def _create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None,
        tags: list[ModelVersionTag],
        run_link: str | None,
        description: str | None,
        model_id: str | None,
        storage_location: str,
    ) -> ModelVersion:
        return self._registry.create_version(
            name, source, storage_location, run_id, tags, run_link, description, model_id
        )

    def _get_model_version(self, name: str, version: str) -> ModelVersion:
        return self._registry.get_version(name, int(version))

    def _update_model_version(self, name: str, version: str, description: str | None) -> ModelVersion:
        return self._registry.update_version(name, int(version), description)

    def _transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        return self._registry.transition_stage(name, int(version), stage, archive_existing_versions)

    def _delete_model_version(self, name: str, version: str) -> None:
        self._registry.delete_version(name, int(version))

    def _get_model_version_download_uri(self, name: str, version: str) -> str:
        return self._registry.download_uri(name, int(version))

    def _search_model_versions(
        self, filter_string: str | None, max_results: int, order_by: list[str], page_token: str | None
    ) -> PagedList[ModelVersion]:
        return search.filter_model_versions(
            self._registry.list_versions(_names_in(search.parse_model_version_filter(filter_string))),
            filter_string=filter_string,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
        )

    def _set_model_version_tag(self, name: str, version: str, tag: ModelVersionTag) -> None:
        self._registry.set_version_tag(name, int(version), tag.key, _text(tag.value))

    def _delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        self._registry.delete_version_tag(name, int(version), key)

    def _set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        self._registry.set_alias(name, alias, int(version))

    def _delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._registry.delete_alias(name, alias)

    def _get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self._registry.version_by_alias(name, alias)

    # -- copy primitives (capability ``import``) ----------------------------------------

    def _get_last_version_number(self, name: str) -> int:
        return _import.last_version_number(self._registry, name)

    def _import_registered_model(self, model: RegisteredModel, last_version: int) -> None:
        _import.import_model(self._registry, model, last_version)

    def _import_model_version(self, version: ModelVersion, number: int, storage_location: str) -> None:
        _import.import_version(self._registry, version, number, storage_location)

    def _import_registered_model_aliases(self, name: str, aliases: dict[str, int]) -> None:
        _import.import_aliases(self._registry, name, aliases)

    # -- logged models -------------------------------------------------------------------

    def _create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None,
        tags: list[LoggedModelTag],
        params: list[LoggedModelParameter],
        model_type: str | None,
    ) -> LoggedModel:
        return self._logged.create(experiment_id, name, source_run_id, tags, params, model_type)

    def _get_logged_model(self, model_id: str, allow_deleted: bool) -> LoggedModel:
        return self._logged.get(model_id, allow_deleted)

    def _finalize_logged_model(self, model_id: str, status: LoggedModelStatus) -> LoggedModel:
        return self._logged.finalize(model_id, status)

    def _delete_logged_model(self, model_id: str) -> None:
        self._logged.delete(model_id)

    def _set_logged_model_tags(self, model_id: str, tags: list[LoggedModelTag]) -> None:
        self._logged.set_tags(model_id, tags)

    def _delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self._logged.delete_tag(model_id, key)

    def _log_logged_model_params(self, model_id: str, params: list[LoggedModelParameter]) -> None:
        self._logged.log_params(model_id, params)

    def _search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        datasets: list[dict[str, Any]],
        max_results: int,
        order_by: list[dict[str, Any]],
        page_token: str | None,
    ) -> PagedList[LoggedModel]:
        found: list[LoggedModel] = []
        for experiment_id in experiment_ids:
            found.extend(self._logged.list(experiment_id))
        return search.filter_logged_models(
            found,
            filter_string=filter_string,
            datasets=datasets,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
            experiment_ids=experiment_ids,
        )

    def _log_outputs(self, run_id: str, models: list[LoggedModelOutput]) -> None:
        self._logged.log_outputs(run_id, models)

    def _log_logged_model_metrics(self, run_id: str, metrics: list[Metric]) -> None:
        self._logged.log_metrics(run_id, metrics)

    def _log_model_inputs(self, run_id: str, models: list[LoggedModelInput]) -> None:
        self._logged.log_model_inputs(run_id, models)

    def _get_run_model_links(self, run_id: str) -> tuple[list[LoggedModelInput], list[LoggedModelOutput]]:
        return self._logged.run_model_links(run_id)

    def __repr__(self) -> str:
        return f"FileRegistryStore({os.fspath(self.root_directory)!r})"


def _text(value: Any) -> str:
    """A tag value as MLflow writes it: None as an empty file."""
    return "" if value is None else str(value)


def _names_in(expr: search.Expr | None) -> set[str] | None:
    """The model names a filter limits a search to (``name = 'x'``, ``name IN (...)``, and
    their ``AND``/``OR``), so only those folders are read; None when it does not limit them.
    The whole filter is still applied to what is read."""
    if isinstance(expr, search.Comparison):
        if expr.entity_type == search.ATTRIBUTE and expr.key == "name":
            if expr.op == "=" and isinstance(expr.value, str):
                return {expr.value}
            if expr.op == "IN" and isinstance(expr.value, tuple):
                return set(expr.value)
        return None
    if isinstance(expr, search.And):
        limits = [n for n in (_names_in(item) for item in expr.items) if n is not None]
        return set.intersection(*limits) if limits else None
    if isinstance(expr, search.Or):
        parts = [_names_in(item) for item in expr.items]
        return None if any(p is None for p in parts) else set().union(*parts)  # type: ignore[arg-type]
    return None
