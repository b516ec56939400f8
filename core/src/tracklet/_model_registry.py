"""``MlflowClient``'s model registry and logged-model methods.

Registry calls go to the registry store a plugin builds for the client's registry URI
(``tracklet_registry_store`` hook, Scheme kind ``"registry"``), built on first use, so a
client that never touches the registry never needs the plugin. Logged models (MLflow 3)
live with the tracking data: their store is the one the same hook builds for the
client's *tracking* URI, and it must implement
:class:`tracklet.stores.registry.LoggedModelStore`.

Method names, arguments, return values, warnings and errors follow MLflow 3.17.2's
``MlflowClient`` (and its ``ModelRegistryClient``), so code written for it runs unchanged.
"""

from __future__ import annotations

import logging
import sys
import time
import urllib.parse
import warnings
from typing import TYPE_CHECKING, Any, Literal

from tracklet import plugins
from tracklet.exceptions import (
    FEATURE_DISABLED,
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)
from tracklet.uri import parse_models_uri

if TYPE_CHECKING:
    from tracklet.entities import LoggedModel, LoggedModelStatus, PagedList
    from tracklet.entities.model_registry import ModelVersion, RegisteredModel
    from tracklet.stores.registry import LoggedModelStore, RegistryStore

__all__ = [
    "DEFAULT_AWAIT_MAX_SLEEP_SECONDS",
    "LOGGED_MODEL_METHODS",
    "REGISTRY_METHODS",
    "SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT",
    "SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT",
    "STAGES_DEPRECATION_WARNING",
    "RegistryClientMixin",
    "eprint",
]

_logger = logging.getLogger("tracklet.store.model_registry")

#: MLflow's defaults (``mlflow.store.model_registry``, ``mlflow.tracking._model_registry``).
SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT = 100
SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT = 10_000
DEFAULT_AWAIT_MAX_SLEEP_SECONDS = 300
#: Seconds between two looks at a PENDING_REGISTRATION version (MLflow's interval).
AWAIT_MODEL_VERSION_CREATE_SLEEP_INTERVAL_SECONDS = 3

STAGES_DEPRECATION_WARNING = (
    "Model registry stages will be removed in a future major release. To learn more about the "
    "deprecation of model registry stages, see our migration guide here: https://mlflow.org/docs/"
    "latest/model-registry.html#migrating-from-stages"
)
_IS_PROMPT_TAG_KEY = "mlflow.prompt.is_prompt"

#: The registry methods of ``MlflowClient`` (seed 003), in the seed's order.
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
#: MLflow 3's logged-model methods of ``MlflowClient``.
LOGGED_MODEL_METHODS = (
    "create_logged_model",
    "get_logged_model",
    "finalize_logged_model",
    "delete_logged_model",
    "set_logged_model_tags",
    "delete_logged_model_tag",
    "log_model_params",
    "search_logged_models",
)


def eprint(*args: Any) -> None:
    """Print to stderr, as MLflow's ``eprint`` (the registry's progress lines)."""
    print(*args, file=sys.stderr)


def _warn_stages_deprecated(method: str) -> None:
    warnings.warn(
        f"``tracklet.client.MlflowClient.{method}`` is deprecated since 2.9.0. {STAGES_DEPRECATION_WARNING}",
        FutureWarning,
        stacklevel=3,
    )


def _has_prompt_tag(tags: Any) -> bool:
    if not tags:
        return False
    if isinstance(tags, dict):
        return _IS_PROMPT_TAG_KEY in tags
    return any(getattr(tag, "key", None) == _IS_PROMPT_TAG_KEY for tag in tags)


def _model_not_found(name: str) -> TrackletException:
    return TrackletException(f"Registered Model with name={name!r} not found.", RESOURCE_DOES_NOT_EXIST)


def _validate_model_version_or_stage_exists(version: Any, stage: Any) -> None:
    if version and stage:
        raise TrackletException("version and stage cannot be set together", INVALID_PARAMETER_VALUE)
    if not (version or stage):
        raise TrackletException("version or stage must be set", INVALID_PARAMETER_VALUE)


def _validate_model_id_specified(model_id: str) -> None:
    if not model_id:
        raise TrackletException(
            f"`model_id` must be a non-empty string, but got {model_id!r}", INVALID_PARAMETER_VALUE
        )


class RegistryClientMixin:
    """Adds the registry and logged-model methods of ``MlflowClient``."""

    _registry_uri: str
    _tracking_uri: str
    _registry_store_lazy: RegistryStore | None = None
    _logged_model_store_lazy: LoggedModelStore | None = None

    # -- stores ---------------------------------------------------------------------------

    @property
    def registry_uri(self) -> str:
        """The registry URI this client talks to."""
        return self._registry_uri

    @property
    def _registry_store(self) -> RegistryStore:
        """The registry store of the registry URI, built on first use (``FEATURE_DISABLED``
        naming the package to install when no plugin serves the URI)."""
        store = self._registry_store_lazy
        if store is None:
            store = self._registry_store_lazy = plugins.get_registry_store(
                self._registry_uri, self._tracking_uri
            )
        return store

    @property
    def _logged_model_store(self) -> LoggedModelStore:
        """The logged-model store of the tracking URI (MLflow keeps logged models with runs)."""
        store = self._logged_model_store_lazy
        if store is None:
            from tracklet.stores.registry import LoggedModelStore

            built = plugins.get_registry_store(self._tracking_uri, self._tracking_uri)
            if not isinstance(built, LoggedModelStore):
                raise TrackletException(
                    f"The store of tracking URI {self._tracking_uri!r} ({type(built).__name__}) does not "
                    "keep logged models (MLflow 3's create_logged_model, log_model). Use a tracking URI "
                    "whose registry store implements tracklet.stores.registry.LoggedModelStore: a local "
                    "folder, a SQL database or a tracking server with tracklet-registry installed.",
                    FEATURE_DISABLED,
                )
            store = self._logged_model_store_lazy = built
        return store

    # -- registered models ------------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        tags: dict[str, Any] | None = None,
        description: str | None = None,
        deployment_job_id: str | None = None,
    ) -> RegisteredModel:
        """Create a registered model (``RESOURCE_ALREADY_EXISTS`` if the name is taken).

        :param tags: a dict; each value is stored as a string.
        """
        from tracklet.entities.model_registry import RegisteredModelTag

        if _has_prompt_tag(tags):
            raise TrackletException("Prompts cannot be registered as models.", INVALID_PARAMETER_VALUE)
        tag_list = [RegisteredModelTag(key, str(value)) for key, value in (tags or {}).items()]
        return self._registry_store.create_registered_model(name, tag_list, description, deployment_job_id)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename a registered model; its versions and aliases follow.

        Returns None, as MLflow's client does (its return statement is missing): fetch the
        model again with :meth:`get_registered_model` for the renamed entity.
        """
        if new_name.strip() == "":
            raise TrackletException("The name must not be an empty string.")
        self._registry_store.rename_registered_model(name=name, new_name=new_name)
        return None  # type: ignore[return-value]  # as MLflow 3.17.2

    def update_registered_model(
        self, name: str, description: str | None = None, deployment_job_id: str | None = None
    ) -> RegisteredModel:
        """Change a registered model's description; return the updated model."""
        return self._registry_store.update_registered_model(
            name=name, description=description, deployment_job_id=deployment_job_id
        )

    def delete_registered_model(self, name: str) -> None:
        """Delete a registered model with all its versions."""
        self._registry_store.delete_registered_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """Registered models matching ``filter_string`` (``name``, ``name LIKE``, ``tags.x``…),
        one page; the next page's token is the result's ``token``."""
        return self._registry_store.search_registered_models(filter_string, max_results, order_by, page_token)

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model with its latest versions, tags and aliases."""
        model = self._registry_store.get_registered_model(name)
        if _has_prompt_tag(getattr(model, "_tags", None)):
            raise _model_not_found(name)
        return model

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        """The newest version in each of ``stages`` (default: one per stage). Deprecated
        with stages since MLflow 2.9 (a ``FutureWarning``, as MLflow)."""
        _warn_stages_deprecated("get_latest_versions")
        return self._registry_store.get_latest_versions(name, stages)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        """Set a tag on a registered model (the value is stored as a string)."""
        from tracklet.entities.model_registry import RegisteredModelTag

        self._registry_store.set_registered_model_tag(name, RegisteredModelTag(key, str(value)))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Delete a tag of a registered model."""
        self._registry_store.delete_registered_model_tag(name, key)

    # -- model versions ----------------------------------------------------------------------

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
    ) -> ModelVersion:
        """Register a new version of ``name`` whose files are at ``source`` (any artifact
        URI, ``runs:/<run_id>/<path>``, ``models:/<name>/<version>`` or ``models:/<model_id>``).

        :param await_creation_for: seconds to wait for the version to be READY (0 or None:
            do not wait).
        :param model_id: the logged model (MLflow 3) this version promotes.
        """
        return self._create_model_version(
            name, source, run_id, tags, run_link, description, await_creation_for, None, model_id
        )

    def _create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        await_creation_for: int | None = DEFAULT_AWAIT_MAX_SLEEP_SECONDS,
        local_model_path: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        from tracklet.entities.model_registry import ModelVersionTag

        if _has_prompt_tag(tags):
            raise TrackletException("Prompts cannot be registered as models.", INVALID_PARAMETER_VALUE)
        tag_list = [ModelVersionTag(key, str(value)) for key, value in (tags or {}).items()]
        store = self._registry_store
        version = store.create_model_version(
            name,
            str(source),
            run_id,
            tag_list,
            run_link,
            description,
            local_model_path=local_model_path,
            model_id=model_id,
        )
        if await_creation_for and await_creation_for > 0:
            self._await_model_version_creation(version, await_creation_for)
        return version

    def _await_model_version_creation(self, mv: ModelVersion, await_creation_for: int) -> None:
        """Wait until ``mv`` leaves PENDING_REGISTRATION (as MLflow, looking every 3 s); raise
        when the time runs out or the version ends anywhere but READY."""
        awaiting = getattr(self._registry_store, "_await_model_version_creation", None)
        if callable(awaiting):  # a store that knows better (e.g. READY at once) decides
            awaiting(mv, await_creation_for)
            return
        await_model_version_creation(self._registry_store, mv, await_creation_for)

    def copy_model_version(self, src_model_uri: str, dst_name: str) -> ModelVersion:
        """Copy the version ``src_model_uri`` (a ``models:/`` URI) names into the registered
        model ``dst_name`` (created if missing) as its next version; the copy's source is
        ``models:/<src name>/<src version>``."""
        if urllib.parse.urlparse(src_model_uri).scheme != "models":
            raise TrackletException(
                f"Unsupported source model URI: '{src_model_uri}'. The `copy_model_version` API "
                "only copies models stored in the 'models:/' scheme."
            )
        try:
            found = self._model_name_and_version(src_model_uri)
            if len(found) != 2:
                raise TrackletException(
                    f"copy_model_version copies a registered model version, not the logged model "
                    f"{found[0]!r}: name a version, e.g. models:/<name>/<version>.",
                    INVALID_PARAMETER_VALUE,
                )
            src_mv = self._registry_store.get_model_version(found[0], found[1])
        except TrackletException as e:
            raise TrackletException(
                f"Failed to fetch model version from source model URI: '{src_model_uri}'. Error: {e}"
            ) from e
        if _has_prompt_tag(getattr(src_mv, "_tags", None)):
            raise TrackletException(f"Model with uri '{src_model_uri}' not found", RESOURCE_DOES_NOT_EXIST)
        return self._registry_store.copy_model_version(src_mv=src_mv, dst_name=dst_name)

    def _model_name_and_version(self, models_uri: str) -> tuple[str] | tuple[str, str]:
        """``(name, version)`` of the version a ``models:/`` URI names, or ``(model_id,)``
        for ``models:/<model_id>`` (MLflow's ``get_model_name_and_version``)."""
        parsed = parse_models_uri(models_uri)
        if parsed.model_id is not None:
            return (parsed.model_id,)
        name = str(parsed.name)
        if parsed.version is not None:
            return name, parsed.version
        store = self._registry_store
        if parsed.alias is not None:
            return name, str(store.get_model_version_by_alias(name, parsed.alias).version)
        latest = store.get_latest_versions(name, None if parsed.stage is None else [parsed.stage])
        if not latest:
            stage = "" if parsed.stage is None else f" and stage '{parsed.stage}'"
            raise TrackletException(f"No versions of model with name '{name}'{stage} found")
        return name, str(max(int(v.version) for v in latest))

    def update_model_version(self, name: str, version: str, description: str | None = None) -> ModelVersion:
        """Change a model version's description; return the updated version."""
        if description is None:
            raise TrackletException("Attempting to update model version with no new field values.")
        return self._registry_store.update_model_version(name=name, version=version, description=description)

    def transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """Move a version to a stage (``None``, ``Staging``, ``Production``, ``Archived``, any
        case); with ``archive_existing_versions`` the versions already in that stage move to
        Archived. Deprecated with stages since MLflow 2.9 (a ``FutureWarning``)."""
        _warn_stages_deprecated("transition_model_version_stage")
        if stage.strip() == "":
            raise TrackletException("The stage must not be an empty string.")
        return self._registry_store.transition_model_version_stage(
            name=name, version=version, stage=stage, archive_existing_versions=archive_existing_versions
        )

    def delete_model_version(self, name: str, version: str) -> None:
        """Delete one version of a registered model."""
        self._registry_store.delete_model_version(name, version)

    def get_model_version(self, name: str, version: str) -> ModelVersion:
        """One version of a registered model."""
        mv = self._registry_store.get_model_version(name, version)
        if _has_prompt_tag(getattr(mv, "_tags", None)):
            raise _model_not_found(name)
        return mv

    def get_model_version_download_uri(self, name: str, version: str) -> str:
        """Where the version's files can be read (its storage location)."""
        return self._registry_store.get_model_version_download_uri(name, version)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        """Model versions matching ``filter_string`` (``name``, ``run_id``, ``run_id IN (…)``,
        ``version_number``, ``source_path``, ``tags.x``…), one page."""
        return self._registry_store.search_model_versions(filter_string, max_results, order_by, page_token)

    def get_model_version_stages(self, name: str, version: str) -> list[str]:
        """The stages a version may move to: all of them, as MLflow (deprecated with stages)."""
        from tracklet.entities.model_registry.model_version_stages import ALL_STAGES

        _warn_stages_deprecated("get_model_version_stages")
        return list(ALL_STAGES)

    def _version_of_stage(self, name: str, stage: str) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            latest = self.get_latest_versions(name, stages=[stage])
        if not latest:
            raise TrackletException(f"Could not find any model version for {stage} stage")
        return str(latest[0].version)

    def set_model_version_tag(
        self,
        name: str,
        version: str | None = None,
        key: str | None = None,
        value: Any = None,
        stage: str | None = None,
    ) -> None:
        """Set a tag on a version, named by ``version`` or (deprecated) by ``stage``: the
        newest version in that stage."""
        from tracklet.entities.model_registry import ModelVersionTag

        _validate_model_version_or_stage_exists(version, stage)
        if stage:
            warnings.warn(
                "The `stage` parameter of the `set_model_version_tag` API is deprecated. "
                + STAGES_DEPRECATION_WARNING,
                FutureWarning,
                stacklevel=2,
            )
            version = self._version_of_stage(name, stage)
        self._registry_store.set_model_version_tag(name, str(version), ModelVersionTag(str(key), str(value)))

    def delete_model_version_tag(
        self, name: str, version: str | None = None, key: str | None = None, stage: str | None = None
    ) -> None:
        """Delete a tag of a version, named by ``version`` or (deprecated) by ``stage``."""
        _validate_model_version_or_stage_exists(version, stage)
        if stage:
            warnings.warn(
                "The `stage` parameter of the `delete_model_version_tag` API is deprecated. "
                + STAGES_DEPRECATION_WARNING,
                FutureWarning,
                stacklevel=2,
            )
            version = self._version_of_stage(name, stage)
        self._registry_store.delete_model_version_tag(name, str(version), str(key))

    # -- aliases --------------------------------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` of a registered model at a version (moving it if it exists)."""
        self._registry_store.set_registered_model_alias(name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Delete an alias of a registered model."""
        self._registry_store.delete_registered_model_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at."""
        mv = self._registry_store.get_model_version_by_alias(name, alias)
        if _has_prompt_tag(getattr(mv, "_tags", None)):
            raise _model_not_found(name)
        return mv

    # -- logged models (MLflow 3) -------------------------------------------------------------------

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        """Create a logged model (status PENDING) in an experiment; its files go to
        ``<experiment artifact location>/models/<model_id>/artifacts``."""
        from tracklet.entities import LoggedModelParameter, LoggedModelTag

        return self._logged_model_store.create_logged_model(
            experiment_id=str(experiment_id),
            name=name,
            source_run_id=source_run_id,
            tags=None if tags is None else [LoggedModelTag(str(k), str(v)) for k, v in tags.items()],
            params=None
            if params is None
            else [LoggedModelParameter(str(k), str(v)) for k, v in params.items()],
            model_type=model_type,
        )

    def _logged_model_must_exist(self, model_id: str, advice: str) -> None:
        try:
            self._logged_model_store.get_logged_model(model_id)
        except Exception as e:
            raise TrackletException(
                f"Failed to get logged model with ID {model_id}. You may not have access to the "
                f"logged model, or the logged model may have been deleted. {advice}",
                INVALID_PARAMETER_VALUE,
            ) from e

    def log_model_params(self, model_id: str, params: dict[str, str]) -> None:
        """Log params on a logged model (values stored as strings)."""
        from tracklet.entities import LoggedModelParameter

        _validate_model_id_specified(model_id)
        self._logged_model_must_exist(
            model_id,
            "If you are attempting to log parameters to a Registered Model Version, this is not supported.",
        )
        self._logged_model_store.log_logged_model_params(
            model_id=model_id, params=[LoggedModelParameter(str(k), str(v)) for k, v in params.items()]
        )

    def finalize_logged_model(
        self, model_id: str, status: Literal["READY", "FAILED"] | LoggedModelStatus
    ) -> LoggedModel:
        """Set a logged model's final status (``READY`` or ``FAILED``)."""
        from tracklet.entities import LoggedModelStatus

        _validate_model_id_specified(model_id)
        return self._logged_model_store.finalize_logged_model(
            model_id, LoggedModelStatus(status) if isinstance(status, str) else status
        )

    def get_logged_model(self, model_id: str) -> LoggedModel:
        """One logged model by id."""
        _validate_model_id_specified(model_id)
        return self._logged_model_store.get_logged_model(model_id)

    def delete_logged_model(self, model_id: str) -> None:
        """Delete a logged model."""
        _validate_model_id_specified(model_id)
        self._logged_model_store.delete_logged_model(model_id)

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        """Set tags on a logged model (values stored as strings)."""
        from tracklet.entities import LoggedModelTag

        _validate_model_id_specified(model_id)
        self._logged_model_must_exist(
            model_id,
            "If you are attempting to set tags on a Registered Model Version, use "
            "`set_model_version_tag` instead.",
        )
        self._logged_model_store.set_logged_model_tags(
            model_id, [LoggedModelTag(str(k), str(v)) for k, v in tags.items()]
        )

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Delete a tag of a logged model."""
        _validate_model_id_specified(model_id)
        self._logged_model_store.delete_logged_model_tag(model_id, key)

    def search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        datasets: list[dict[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: list[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        """Logged models of the experiments matching ``filter_string``, one page."""
        if not isinstance(experiment_ids, list) or not all(isinstance(e, str) for e in experiment_ids):
            raise TrackletException(
                f"experiment_ids must be a list of strings, got {type(experiment_ids)}",
                INVALID_PARAMETER_VALUE,
            )
        return self._logged_model_store.search_logged_models(
            experiment_ids, filter_string, datasets, max_results, order_by, page_token
        )


def await_model_version_creation(store: Any, mv: ModelVersion, await_creation_for: int) -> None:
    """MLflow's wait for a new version: log that it waits, look every 3 s until the status
    leaves PENDING_REGISTRATION, raise when ``await_creation_for`` seconds pass or when the
    version ends anywhere but READY."""
    from tracklet.entities.model_registry.model_version_status import ModelVersionStatus

    entity = "Prompt" if _has_prompt_tag(getattr(mv, "tags", None)) else "Model"
    pending = ModelVersionStatus.to_string(ModelVersionStatus.PENDING_REGISTRATION)
    ready = ModelVersionStatus.to_string(ModelVersionStatus.READY)
    _logger.info(
        f"Waiting up to {await_creation_for} seconds for {entity.lower()} version to finish creation. "
        f"{entity} name: {mv.name}, version {mv.version}"
    )
    deadline = time.monotonic() + await_creation_for
    while mv.status == pending:
        if time.monotonic() > deadline:
            raise TrackletException(
                f"Exceeded max wait time for model name: {mv.name} version: {mv.version} to become "
                f"READY. Status: {mv.status} Wait Time: {await_creation_for}."
            )
        mv = store.get_model_version(mv.name, mv.version)
        if mv.status != pending:
            break
        time.sleep(AWAIT_MODEL_VERSION_CREATE_SLEEP_INTERVAL_SECONDS)
    if mv.status != ready:
        raise TrackletException(
            f"{entity} version creation failed for {entity.lower()} name: {mv.name} version: "
            f"{mv.version} with status: {mv.status} and message: {mv.status_message}"
        )
