"""MLflow's UI download routes: ``GET /get-artifact?run_id=…&path=…`` (one file of a run's
artifacts, read where ``artifacts/list`` reads them) and ``GET /model-versions/get-artifact``
(tracklet keeps no model registry: it answers MLflow's ``Invalid path`` for a path that
leaves the artifacts, as MLflow checks that first, and 404 otherwise).

The file is always sent as an attachment, HTML-like types as ``text/plain``
(:class:`tracklet_http.server.artifacts.FileStream`), so a browser never renders an
artifact on the server's origin. With ``--auth`` the caller needs READ on the run's
experiment, as for ``runs/get``.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tracklet.exceptions import ENDPOINT_NOT_FOUND, INVALID_PARAMETER_VALUE, TrackletException
from tracklet_http.server.artifacts import _errors, _guarded, stream_fetched
from tracklet_http.server.handlers import _listing_repository, run_artifact_path

__all__ = ["OPENAPI_PATHS", "ui_artifact_routes"]


def _required(request: Request, *names: str) -> str:
    for name in names:
        value = request.query_params.get(name)
        if value:
            return value
    raise TrackletException(
        f"Missing value for required parameter '{names[0]}'. "
        "See the API docs for more information about request parameters.",
        INVALID_PARAMETER_VALUE,
    )


async def _get_artifact(request: Request) -> Response:
    path = run_artifact_path(request.query_params.get("path"))
    run_id = _required(request, "run_id", "run_uuid")
    if path is None:
        raise TrackletException("Invalid path: name a file of the run's artifacts.", INVALID_PARAMETER_VALUE)
    state = request.app.state.tracking
    authorizer = state.authorizer
    if authorizer is not None:
        user = await authorizer.authenticate_scope(request.scope)
        await run_in_threadpool(authorizer.authorize, user, "get_run", {"run_id": run_id}, state.store)
    run = await run_in_threadpool(state.store.get_run, run_id)
    repo = _listing_repository(state, run.info.artifact_uri or "")
    return await stream_fetched(repo.download_artifacts, path)


async def _model_version_artifact(request: Request) -> Response:
    run_artifact_path(request.query_params.get("path"))  # MLflow answers a bad path first
    raise TrackletException(
        "tracklet server keeps no model registry: there are no model versions to download from.",
        ENDPOINT_NOT_FOUND,
    )


def ui_artifact_routes() -> list[BaseRoute]:
    """The routes, under ``/`` and MLflow's ``/ajax-api`` alias; the model-version route
    also under ``//`` (MLflow's server merges the slashes, and its tests send it so)."""
    get_artifact = _guarded(_get_artifact)
    model_version = _guarded(_model_version_artifact)
    return [
        Route("/get-artifact", get_artifact, methods=["GET"]),
        Route("/ajax-api/2.0/mlflow/get-artifact", get_artifact, methods=["GET"]),
        Route("/model-versions/get-artifact", model_version, methods=["GET"]),
        Route("//model-versions/get-artifact", model_version, methods=["GET"]),
    ]


OPENAPI_PATHS: dict[str, Any] = {
    "/get-artifact": {
        "get": {
            "operationId": "get_run_artifact",
            "summary": "Download one file of a run's artifacts (MLflow's UI route).",
            "tags": ["mlflow-ui"],
            "parameters": [
                {"name": "run_id", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "path", "in": "query", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {
                    "description": "The file, as an attachment.",
                    "content": {
                        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                    },
                },
                **_errors(400, 401, 403, 404, 429, 500),
            },
        }
    }
}
