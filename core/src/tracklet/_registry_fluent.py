"""The fluent model-registry and logged-model functions: ``tracklet.register_model``,
``search_registered_models``, ``search_model_versions`` (MLflow's
``mlflow.tracking._model_registry.fluent``) and MLflow 3's logged-model functions
(``initialize_logged_model``, ``create_external_model``, ``get_logged_model``,
``search_logged_models``, ``finalize_logged_model``, ``set_logged_model_tags``,
``delete_logged_model_tag``, ``last_logged_model``, ``log_model_params``).

Each call builds its client for the tracking and registry URIs in force at that moment
(stores are cached by the plugin manager, so this costs nothing), so a later
:func:`tracklet.set_registry_uri` applies at once.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import tempfile
from typing import TYPE_CHECKING, Any, Literal

from tracklet._model_registry import (
    DEFAULT_AWAIT_MAX_SLEEP_SECONDS,
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    eprint,
)
from tracklet.client import MlflowClient
from tracklet.exceptions import (
    ALREADY_EXISTS,
    INVALID_PARAMETER_VALUE,
    NOT_FOUND,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)
from tracklet.uri import get_scheme, parse_models_uri, parse_runs_uri

if TYPE_CHECKING:
    from collections.abc import Callable

    from tracklet.entities import LoggedModel, LoggedModelStatus, PagedList, Run
    from tracklet.entities.model_registry import ModelVersion, RegisteredModel

__all__ = [
    "create_external_model",
    "delete_logged_model_tag",
    "finalize_logged_model",
    "get_logged_model",
    "initialize_logged_model",
    "last_logged_model",
    "log_model_params",
    "register_model",
    "search_logged_models",
    "search_model_versions",
    "search_registered_models",
    "set_logged_model_tags",
]

_logger = logging.getLogger("tracklet.tracking._model_registry.fluent")

_MLMODEL_FILE_NAME = "MLmodel"
_MLFLOW_MODEL_VERSIONS = "mlflow.modelVersions"
_MLFLOW_MODEL_IS_EXTERNAL = "mlflow.model.isExternal"
_last_logged_model_id: str | None = None


# -- the model registry ----------------------------------------------------------------------


def register_model(
    model_uri: str,
    name: str,
    await_registration_for: int = DEFAULT_AWAIT_MAX_SLEEP_SECONDS,
    *,
    tags: dict[str, Any] | None = None,
) -> ModelVersion:
    """Register the model at ``model_uri`` as a new version of ``name`` (created if missing).

    ``model_uri`` is ``runs:/<run_id>/<path>`` (a folder holding ``MLmodel``, else the logged
    model of that name the run produced), ``models:/<model_id>``, ``models:/<name>/<version>``
    or any artifact URI. Prints MLflow's progress lines on stderr.
    """
    client = MlflowClient()
    try:
        created = client.create_registered_model(name)
        eprint(f"Successfully registered model '{created.name}'.")
    except TrackletException as e:
        if e.error_code not in (RESOURCE_ALREADY_EXISTS, ALREADY_EXISTS):
            raise
        eprint(f"Registered model {name!r} already exists. Creating a new version of this model...")

    run_id: str | None = None
    model_id: str | None = None
    source = str(model_uri)
    if get_scheme(source) == "runs":
        run_id, artifact_path = parse_runs_uri(source)
        from tracklet._runs_artifacts import RunsArtifactRepository

        runs_repo = RunsArtifactRepository(source)
        if _MLMODEL_FILE_NAME in (info.path for info in runs_repo.list_artifacts(None)):
            source = RunsArtifactRepository.get_underlying_uri(source)
        else:
            run = client.get_run(run_id)
            logged = _logged_models_of_run(client, run, artifact_path)
            if not logged:
                raise TrackletException(
                    f"Unable to find a logged_model with artifact_path {artifact_path} under run {run_id}",
                    NOT_FOUND,
                )
            if len(logged) > 1:
                outputs = getattr(run, "outputs", None)
                if outputs is None:
                    raise TrackletException(
                        f"Multiple logged models found for run {run_id}. Cannot determine which model "
                        "to register. Please use `models:/<model_id>` instead.",
                        INVALID_PARAMETER_VALUE,
                    )
                steps = {o.model_id: o.step for o in outputs.model_outputs}
                model_id = max(logged, key=lambda m: steps.get(m.model_id, -1)).model_id
            else:
                model_id = logged[0].model_id
            source = f"models:/{model_id}"
            _logger.warning(
                f"Run with id {run_id} has no artifacts at artifact path {artifact_path!r}, "
                f"registering model based on {source} instead"
            )
    if not model_id:
        model_id = _model_id_of(client, source)

    version = client._create_model_version(
        name=name,
        source=source,
        run_id=run_id,
        tags=tags,
        await_creation_for=await_registration_for,
        model_id=model_id,
    )
    eprint(f"Created version '{version.version}' of model '{version.name}'.")
    if model_id:
        _record_version_on_logged_model(client, model_id, version)
    return version


def _logged_models_of_run(client: MlflowClient, run: Run, name: str) -> list[LoggedModel]:
    """The logged models named ``name`` that ``run`` produced (every page)."""
    found: list[LoggedModel] = []
    token = None
    while True:
        page = client.search_logged_models(
            experiment_ids=[run.info.experiment_id], filter_string=f"name = '{name}'", page_token=token
        )
        found.extend(m for m in page if m.source_run_id == run.info.run_id)
        token = page.token
        if not token:
            return found


def _model_id_of(client: MlflowClient, uri: str) -> str | None:
    """The logged model id a ``models:/`` URI names (directly, or through the version it
    names), else None (MLflow's ``_parse_model_id_if_present``)."""
    if get_scheme(uri) != "models":
        return None
    parsed = parse_models_uri(uri)
    if parsed.model_id is not None:
        return parsed.model_id
    if parsed.name is not None and parsed.version is not None:
        return client.get_model_version(parsed.name, parsed.version).model_id
    return None


def _record_version_on_logged_model(client: MlflowClient, model_id: str, version: ModelVersion) -> None:
    """Append the new version to the logged model's ``mlflow.modelVersions`` tag, as MLflow."""
    entry = [{"name": version.name, "version": version.version}]
    try:
        model = client.get_logged_model(model_id)
        existing = model.tags.get(_MLFLOW_MODEL_VERSIONS)
        if existing:
            entry = json.loads(existing) + entry
        client.set_logged_model_tags(model_id, {_MLFLOW_MODEL_VERSIONS: json.dumps(entry)})
    except TrackletException as e:
        if e.error_code != RESOURCE_DOES_NOT_EXIST:
            raise
        _logger.warning(
            "Unable to update logged model tags for model ID '%s': the logged model does not exist in "
            "the current workspace. No model version link will be recorded on the logged model.",
            model_id,
        )


def _all_pages(
    fetch: Callable[[int, str | None], PagedList[Any]], per_page: int, max_results: int | None
) -> list[Any]:
    """MLflow's ``get_results_from_paginated_fn``: pages until ``max_results`` (None: all)."""
    out: list[Any] = []
    token: str | None = None
    while True:
        wanted = per_page if max_results is None else min(per_page, max_results - len(out))
        page = fetch(wanted, token)
        out.extend(page)
        token = page.token
        if not token or (max_results is not None and len(out) >= max_results):
            return out


def search_registered_models(
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[RegisteredModel]:
    """Every registered model matching ``filter_string`` (up to ``max_results``), all pages."""
    client = MlflowClient()
    return _all_pages(
        lambda n, token: client.search_registered_models(
            max_results=n, filter_string=filter_string, order_by=order_by, page_token=token
        ),
        SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        max_results,
    )


def search_model_versions(
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[ModelVersion]:
    """Every model version matching ``filter_string`` (up to ``max_results``), all pages."""
    client = MlflowClient()
    return _all_pages(
        lambda n, token: client.search_model_versions(
            max_results=n, filter_string=filter_string, order_by=order_by, page_token=token
        ),
        SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        max_results,
    )


# -- logged models (MLflow 3) ---------------------------------------------------------------------


def _create_logged_model(
    name: str | None,
    source_run_id: str | None,
    tags: dict[str, str] | None,
    params: dict[str, str] | None,
    model_type: str | None,
    experiment_id: str | None,
) -> LoggedModel:
    from tracklet import fluent, plugins

    run = fluent.active_run()
    if source_run_id is None and run is not None:
        source_run_id = run.info.run_id
    if experiment_id is None and run is not None:
        experiment_id = run.info.experiment_id
    elif experiment_id is None:
        experiment_id = (
            fluent.get_run(source_run_id).info.experiment_id
            if source_run_id
            else fluent._current_experiment_id()
        )
    resolved = {**plugins.run_context_tags(), **(tags or {})}
    return MlflowClient().create_logged_model(
        experiment_id=str(experiment_id),
        name=name,
        source_run_id=source_run_id,
        tags=resolved,
        params=params,
        model_type=model_type,
    )


def initialize_logged_model(
    name: str | None = None,
    source_run_id: str | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    model_type: str | None = None,
    experiment_id: str | None = None,
) -> LoggedModel:
    """Create a logged model (status PENDING) in the active run's experiment (or the current
    one), linked to the active run; it becomes :func:`last_logged_model`."""
    global _last_logged_model_id
    model = _create_logged_model(name, source_run_id, tags, params, model_type, experiment_id)
    _last_logged_model_id = model.model_id
    return model


def create_external_model(
    name: str | None = None,
    source_run_id: str | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    model_type: str | None = None,
    experiment_id: str | None = None,
) -> LoggedModel:
    """Create a logged model whose files live outside tracklet: tagged
    ``mlflow.model.isExternal``, given an ``MLmodel`` description (so that it can be
    registered) and made READY at once, as MLflow does."""
    global _last_logged_model_id
    tags = {**(tags or {}), _MLFLOW_MODEL_IS_EXTERNAL: "true"}
    model = _create_logged_model(name, source_run_id, tags, params, model_type, experiment_id)
    client = MlflowClient()
    with tempfile.TemporaryDirectory(prefix="tracklet-") as tmp:
        with open(os.path.join(tmp, _MLMODEL_FILE_NAME), "w", encoding="utf-8") as f:
            f.write(_external_mlmodel(model))
        from tracklet import plugins

        plugins.get_artifact_repository(model.artifact_location, client.tracking_uri).log_artifacts(tmp, None)
    model = client.finalize_logged_model(model.model_id, "READY")
    _last_logged_model_id = model.model_id
    return model


def _external_mlmodel(model: LoggedModel) -> str:
    """The ``MLmodel`` MLflow writes for an external model (no flavors, a dummy signature)."""
    import yaml

    spec = {
        "artifact_path": model.artifact_location,
        "flavors": {},
        "is_signature_from_type_hint": False,
        "metadata": {_MLFLOW_MODEL_IS_EXTERNAL: True},
        "model_id": model.model_id,
        "model_uuid": model.model_id,
        "prompts": None,
        "signature": {
            "inputs": '[{"type": "boolean", "required": true}]',
            "outputs": '[{"type": "boolean", "required": true}]',
            "params": None,
        },
        "type_hint_from_example": False,
        "utc_time_created": str(datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)),
    }
    if model.source_run_id:
        spec["run_id"] = model.source_run_id
    return str(yaml.safe_dump(spec, default_flow_style=False))


def get_logged_model(model_id: str) -> LoggedModel:
    """One logged model by id."""
    return MlflowClient().get_logged_model(model_id)


def last_logged_model() -> LoggedModel | None:
    """The logged model this process created last (None if none)."""
    return get_logged_model(_last_logged_model_id) if _last_logged_model_id else None


def finalize_logged_model(
    model_id: str, status: Literal["READY", "FAILED"] | LoggedModelStatus
) -> LoggedModel:
    """Set a logged model's final status."""
    return MlflowClient().finalize_logged_model(model_id, status)


def set_logged_model_tags(model_id: str, tags: dict[str, Any]) -> None:
    """Set tags on a logged model."""
    MlflowClient().set_logged_model_tags(model_id, tags)


def delete_logged_model_tag(model_id: str, key: str) -> None:
    """Delete a tag of a logged model."""
    MlflowClient().delete_logged_model_tag(model_id, key)


def log_model_params(params: dict[str, str], model_id: str | None = None) -> None:
    """Log params on a logged model (default: the last one this process created)."""
    MlflowClient().log_model_params(str(model_id or _last_logged_model_id or ""), params)


def search_logged_models(
    experiment_ids: list[str] | None = None,
    filter_string: str | None = None,
    datasets: list[dict[str, str]] | None = None,
    max_results: int | None = None,
    order_by: list[dict[str, Any]] | None = None,
    output_format: Literal["pandas", "list"] = "pandas",
) -> Any:
    """Logged models of the experiments (default: the current one) matching
    ``filter_string``, all pages up to ``max_results``: a pandas DataFrame, or a list with
    ``output_format="list"``."""
    from tracklet import fluent
    from tracklet.entities import LoggedModelStatus

    if output_format not in ("pandas", "list"):
        raise TrackletException(
            f"Unsupported output format: {output_format!r}. Supported string values are 'pandas' or 'list'",
            INVALID_PARAMETER_VALUE,
        )
    experiment_ids = experiment_ids or [fluent._current_experiment_id()]
    client = MlflowClient()
    models: list[LoggedModel] = []
    token = None
    while True:
        page = client.search_logged_models(
            experiment_ids=experiment_ids,
            filter_string=filter_string,
            datasets=datasets,
            max_results=max_results,
            order_by=order_by,
            page_token=token,
        )
        models.extend(page)
        if (max_results is not None and len(models) >= max_results) or not page.token:
            break
        token = page.token
    if max_results is not None:
        models = models[:max_results]
    if output_format == "list":
        return models
    import pandas as pd

    rows = []
    for model in models:
        row = model.to_dictionary()
        row["status"] = LoggedModelStatus.from_int(row["status"])
        rows.append(row)
    return pd.DataFrame(rows)
