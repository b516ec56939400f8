"""The model registry's and logged models' REST endpoints, as :class:`tracklet.routes.Route`s.

Every registry endpoint of MLflow 3.17.2's server (``model_registry.proto``) and the
logged-model endpoints of its tracking service (``service.proto``), with MLflow's methods,
paths and request fields (plus the UI's download of one file of a logged model,
``logged-models/{model_id}/artifacts/files``, a Flask route of MLflow's server answered
with the file), and the permission MLflow's basic-auth app asks for each
(READ to read a model, EDIT to change it, MANAGE to delete it; CREATE for creating one).
``tracklet server`` mounts them through the ``tracklet_server_routes`` hook
(:func:`tracklet_registry.plugin.tracklet_server_routes`).
"""

from __future__ import annotations

from tracklet.routes import Field, Route, RoutePermission
from tracklet_registry.server import handlers as h

__all__ = ["API", "registry_routes"]

#: Where MLflow's REST API lives.
API = "/api/2.0/mlflow"

_NAME = Field("name", required=True, doc="the registered model's name")
_VERSION = Field("version", required=True, doc="the version number, as a string")
_TOKEN = Field("page_token", doc="token from a previous page's next_page_token")
_MODEL_ID = Field("model_id", doc="the logged model's id (also in the path)")


def _model(level: str) -> RoutePermission:
    return RoutePermission("registered_model", "name", level)


def _logged(level: str) -> RoutePermission:
    return RoutePermission("logged_model", "model_id", level)


def _registered_model_routes() -> list[Route]:
    return [
        Route(
            "create_registered_model",
            "POST",
            f"{API}/registered-models/create",
            h.create_registered_model,
            fields=(
                _NAME,
                Field("tags", "KeyValue", repeated=True),
                Field("description"),
                Field("deployment_job_id"),
            ),
            summary="Create a registered model.",
            permission=_model("CREATE"),
        ),
        Route(
            "get_registered_model",
            "GET",
            f"{API}/registered-models/get",
            h.get_registered_model,
            fields=(_NAME,),
            summary="Get a registered model, with its latest version per stage, tags and aliases.",
            permission=_model("READ"),
        ),
        Route(
            "rename_registered_model",
            "POST",
            f"{API}/registered-models/rename",
            h.rename_registered_model,
            fields=(_NAME, Field("new_name", required=True)),
            summary="Rename a registered model (its versions follow).",
            permission=_model("EDIT"),
        ),
        Route(
            "update_registered_model",
            "PATCH",
            f"{API}/registered-models/update",
            h.update_registered_model,
            fields=(_NAME, Field("description"), Field("deployment_job_id")),
            summary="Change a registered model's description.",
            permission=_model("EDIT"),
        ),
        Route(
            "delete_registered_model",
            "DELETE",
            f"{API}/registered-models/delete",
            h.delete_registered_model,
            fields=(_NAME,),
            summary="Delete a registered model and all its versions.",
            permission=_model("MANAGE"),
        ),
        Route(
            "search_registered_models",
            "GET",
            f"{API}/registered-models/search",
            h.search_registered_models,
            fields=(Field("filter"), Field("max_results", "int64"), Field("order_by", repeated=True), _TOKEN),
            summary="Search registered models (name, name LIKE/ILIKE, tags.x; OR and parentheses).",
        ),
        Route(
            "get_latest_versions",
            "POST",
            f"{API}/registered-models/get-latest-versions",
            h.get_latest_versions,
            fields=(_NAME, Field("stages", repeated=True)),
            summary="The latest version of a registered model in each stage asked for.",
            permission=_model("READ"),
            also=("GET",),
        ),
        Route(
            "set_registered_model_tag",
            "POST",
            f"{API}/registered-models/set-tag",
            h.set_registered_model_tag,
            fields=(_NAME, Field("key", required=True), Field("value")),
            summary="Set a tag on a registered model.",
            permission=_model("EDIT"),
        ),
        Route(
            "delete_registered_model_tag",
            "DELETE",
            f"{API}/registered-models/delete-tag",
            h.delete_registered_model_tag,
            fields=(_NAME, Field("key", required=True)),
            summary="Delete a tag of a registered model.",
            permission=_model("EDIT"),
        ),
    ]


def _model_version_routes() -> list[Route]:
    return [
        Route(
            "create_model_version",
            "POST",
            f"{API}/model-versions/create",
            h.create_model_version,
            fields=(
                _NAME,
                Field(
                    "source",
                    required=True,
                    doc="runs:/<run_id>/..., models:/..., a location in the run's (or logged model's) artifacts, or an object-store URI",
                ),
                Field("run_id", "RunId"),
                Field("tags", "KeyValue", repeated=True),
                Field("run_link"),
                Field("description"),
                Field("model_id"),
            ),
            summary="Create a new version of a registered model (the source is checked as MLflow's server checks it, stored, never read).",
            permission=_model("EDIT"),
        ),
        Route(
            "get_model_version",
            "GET",
            f"{API}/model-versions/get",
            h.get_model_version,
            fields=(_NAME, _VERSION),
            summary="Get a model version.",
            permission=_model("READ"),
        ),
        Route(
            "update_model_version",
            "PATCH",
            f"{API}/model-versions/update",
            h.update_model_version,
            fields=(_NAME, _VERSION, Field("description")),
            summary="Change a model version's description.",
            permission=_model("EDIT"),
        ),
        Route(
            "transition_model_version_stage",
            "POST",
            f"{API}/model-versions/transition-stage",
            h.transition_model_version_stage,
            fields=(
                _NAME,
                _VERSION,
                Field("stage", required=True),
                Field("archive_existing_versions", "bool"),
            ),
            summary="Move a model version to another stage (deprecated in MLflow: use aliases).",
            permission=_model("EDIT"),
        ),
        Route(
            "delete_model_version",
            "DELETE",
            f"{API}/model-versions/delete",
            h.delete_model_version,
            fields=(_NAME, _VERSION),
            summary="Delete a model version.",
            permission=_model("MANAGE"),
        ),
        Route(
            "get_model_version_download_uri",
            "GET",
            f"{API}/model-versions/get-download-uri",
            h.get_model_version_download_uri,
            fields=(_NAME, _VERSION),
            summary="Where a model version's artifacts are stored.",
            permission=_model("READ"),
        ),
        Route(
            "search_model_versions",
            "GET",
            f"{API}/model-versions/search",
            h.search_model_versions,
            fields=(Field("filter"), Field("max_results", "int64"), Field("order_by", repeated=True), _TOKEN),
            summary="Search model versions (name, version_number, run_id, run_id IN, source_path, tags.x).",
        ),
        Route(
            "set_model_version_tag",
            "POST",
            f"{API}/model-versions/set-tag",
            h.set_model_version_tag,
            fields=(_NAME, _VERSION, Field("key", required=True), Field("value")),
            summary="Set a tag on a model version.",
            permission=_model("EDIT"),
        ),
        Route(
            "delete_model_version_tag",
            "DELETE",
            f"{API}/model-versions/delete-tag",
            h.delete_model_version_tag,
            fields=(_NAME, _VERSION, Field("key", required=True)),
            summary="Delete a tag of a model version.",
            permission=_model("MANAGE"),
        ),
        Route(
            "set_registered_model_alias",
            "POST",
            f"{API}/registered-models/alias",
            h.set_registered_model_alias,
            fields=(_NAME, Field("alias", required=True), _VERSION),
            summary="Point an alias of a registered model at a version.",
            permission=_model("EDIT"),
        ),
        Route(
            "delete_registered_model_alias",
            "DELETE",
            f"{API}/registered-models/alias",
            h.delete_registered_model_alias,
            fields=(_NAME, Field("alias", required=True)),
            summary="Delete an alias of a registered model.",
            permission=_model("MANAGE"),
        ),
        Route(
            "get_model_version_by_alias",
            "GET",
            f"{API}/registered-models/alias",
            h.get_model_version_by_alias,
            fields=(_NAME, Field("alias", required=True)),
            summary="The model version an alias points at.",
            permission=_model("READ"),
        ),
    ]


def _logged_model_routes() -> list[Route]:
    kv_tags = Field("tags", "KeyValue", repeated=True)
    kv_params = Field("params", "KeyValue", repeated=True)
    return [
        Route(
            "create_logged_model",
            "POST",
            f"{API}/logged-models",
            h.create_logged_model,
            fields=(
                Field("experiment_id", "ExperimentId", required=True),
                Field("name"),
                Field("model_type"),
                Field("source_run_id", "RunId"),
                kv_params,
                kv_tags,
            ),
            summary="Create an MLflow 3 logged model (PENDING) in an experiment.",
            permission=RoutePermission("experiment", "experiment_id", "EDIT"),
        ),
        Route(
            "search_logged_models",
            "POST",
            f"{API}/logged-models/search",
            h.search_logged_models,
            fields=(
                Field("experiment_ids", "ExperimentId", repeated=True, required=True),
                Field("filter"),
                Field("datasets", "object", repeated=True),
                Field("max_results", "int32"),
                Field("order_by", "object", repeated=True),
                _TOKEN,
            ),
            summary="Search logged models of experiments.",
            permission=RoutePermission("experiment", "experiment_ids", "READ"),
        ),
        Route(
            "get_logged_model",
            "GET",
            f"{API}/logged-models/{{model_id}}",
            h.get_logged_model,
            fields=(_MODEL_ID, Field("allow_deleted", "bool")),
            summary="Get a logged model.",
            permission=_logged("READ"),
        ),
        Route(
            "finalize_logged_model",
            "PATCH",
            f"{API}/logged-models/{{model_id}}",
            h.finalize_logged_model,
            fields=(
                _MODEL_ID,
                Field("status", required=True, doc="LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED"),
            ),
            summary="Mark a logged model READY or FAILED once its artifacts are uploaded.",
            permission=_logged("EDIT"),
        ),
        Route(
            "delete_logged_model",
            "DELETE",
            f"{API}/logged-models/{{model_id}}",
            h.delete_logged_model,
            fields=(_MODEL_ID,),
            summary="Delete a logged model.",
            permission=_logged("MANAGE"),
        ),
        Route(
            "set_logged_model_tags",
            "PATCH",
            f"{API}/logged-models/{{model_id}}/tags",
            h.set_logged_model_tags,
            fields=(_MODEL_ID, kv_tags),
            summary="Set tags on a logged model.",
            permission=_logged("EDIT"),
        ),
        Route(
            "delete_logged_model_tag",
            "DELETE",
            f"{API}/logged-models/{{model_id}}/tags/{{tag_key}}",
            h.delete_logged_model_tag,
            fields=(_MODEL_ID,),
            summary="Delete a tag of a logged model.",
            permission=_logged("MANAGE"),
        ),
        Route(
            "log_logged_model_params",
            "POST",
            f"{API}/logged-models/{{model_id}}/params",
            h.log_logged_model_params,
            fields=(_MODEL_ID, kv_params),
            summary="Log parameters of a logged model.",
            permission=_logged("EDIT"),
        ),
        Route(
            "list_logged_model_artifacts",
            "GET",
            f"{API}/logged-models/{{model_id}}/artifacts/directories",
            h.list_logged_model_artifacts,
            fields=(_MODEL_ID, Field("artifact_directory_path"), _TOKEN),
            summary="List one level of a logged model's artifacts (where the server owns them).",
            permission=_logged("READ"),
        ),
        Route(
            "get_logged_model_artifact",
            "GET",
            f"{API}/logged-models/{{model_id}}/artifacts/files",
            h.get_logged_model_artifact,
            fields=(
                _MODEL_ID,
                Field("artifact_file_path", doc="the file's path inside the model's artifacts"),
            ),
            summary="Download one file of a logged model's artifacts (where the server owns them).",
            permission=_logged("READ"),
        ),
        Route(
            "log_outputs",
            "POST",
            f"{API}/runs/outputs",
            h.log_outputs,
            fields=(
                Field("run_id", "RunId", required=True),
                Field("models", "object", repeated=True, required=True),
            ),
            summary="Record the logged models a run produced.",
            permission=RoutePermission("run", "run_id", "EDIT"),
        ),
    ]


def registry_routes() -> list[Route]:
    """Every route this plugin adds to ``tracklet server`` (with tracklet's own registry
    import routes, :mod:`tracklet_registry.server.imports`)."""
    from tracklet_registry.server.imports import import_routes

    return [*_registered_model_routes(), *_model_version_routes(), *_logged_model_routes(), *import_routes()]
