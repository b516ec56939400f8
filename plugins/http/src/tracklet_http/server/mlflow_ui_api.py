"""The small endpoints MLflow 3.17's web UI calls on every page that tracklet server
answers as MLflow's does (found by driving the UI against both servers; see
``plugins/http/README.md``):

* ``GET /api/3.0/mlflow/server-info`` (and ``/ajax-api/3.0/…``): how the server is set up
  — the store type the UI adapts to (``SqlStore`` for a database, ``FileStore`` for a
  folder, None for anything else), and no workspaces, trace archival, multipart or
  presigned transfers, AI gateway.
* ``POST /api/3.0/mlflow/datasets/search``: MLflow's GenAI evaluation datasets, which
  tracklet does not keep: an empty page (``{}``, MLflow's answer when there are none).
  A plugin contributing a route of the same name, method and path replaces it.
* ``GET /ajax-api/3.0/mlflow/assistant/config`` and ``…/assistant/providers``: MLflow's
  AI assistant panel, which tracklet does not run: no configuration, and MLflow's
  providers each ``available: false`` with none resolved (the panel then offers no chat).
* ``GET``/``POST /ajax-api/2.0/mlflow/gateway-proxy`` (only there, as MLflow): MLflow's
  answer when no AI gateway is configured, ``{"endpoints": []}``.

They are served as contributed routes of the server's own (like the trace API), so they
are checked, authorized (any authenticated user with ``--auth``) and listed in
``/openapi.json`` the same way.
"""

from __future__ import annotations

from typing import Any

from tracklet.routes import Field, Route, RouteRequest
from tracklet.uri import get_scheme

__all__ = ["mlflow_ui_api_routes", "store_type"]

V3 = "/api/3.0/mlflow"
_SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


def store_type(backend_store_uri: str) -> str | None:
    """What MLflow's ``server-info`` calls the backend: ``SqlStore``, ``FileStore`` or None."""
    scheme = get_scheme(backend_store_uri).split("+", 1)[0]
    if scheme in _SQL_SCHEMES:
        return "SqlStore"
    if scheme in ("", "file"):
        return "FileStore"
    return None


def _server_info(request: RouteRequest) -> dict[str, Any]:
    settings = getattr(request, "settings", None)
    uri = str(getattr(settings, "backend_store_uri", "") or "")
    return {
        "store_type": store_type(uri),
        "workspaces_enabled": False,
        "trace_archival_enabled": False,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
        "presigned_upload_run_id_supported": False,
        "presigned_upload_model_id_supported": False,
        "features_enabled": {"gateway": False},
    }


def _search_evaluation_datasets(request: RouteRequest) -> dict[str, Any]:
    return {}


#: MLflow 3.17.2's assistant providers, as its ``/assistant/providers`` lists them.
_PROVIDERS = (
    ("claude_code", "Claude Code", "AI-powered assistant using Claude Code CLI", False, "structured"),
    ("codex", "Codex", "AI-powered assistant using the Codex CLI", False, "structured"),
    (
        "mlflow_gateway",
        "MLflow AI Gateway",
        "AI-powered assistant backed by an MLflow AI Gateway endpoint configured on this server.",
        True,
        "tool",
    ),
    ("ollama", "Ollama", "AI-powered assistant using a locally running Ollama server.", False, "tool"),
)


def _assistant_config(request: RouteRequest) -> dict[str, Any]:
    return {"providers": {}, "projects": {}, "remote_access_allowed": False}


def _assistant_providers(request: RouteRequest) -> dict[str, Any]:
    providers = [
        {
            "name": name,
            "display_name": display,
            "description": description,
            "available": False,
            "selected": False,
            "requires_api_key": False,
            "has_api_key": False,
            "allows_remote_access": remote,
            "client_tool_delivery": delivery,
            "model_options": [],
        }
        for name, display, description, remote, delivery in _PROVIDERS
    ]
    return {"providers": providers, "resolved": None, "gateway_vendor_options": {}}


def _gateway_proxy(request: RouteRequest) -> dict[str, Any]:
    return {"endpoints": []}


def mlflow_ui_api_routes() -> list[Route]:
    """The routes, each also under ``/ajax-api/3.0/mlflow`` (the server adds the alias)."""
    return [
        Route(
            "get_server_info",
            "GET",
            f"{V3}/server-info",
            _server_info,
            summary="How the server is set up (MLflow's server-info: store type, optional features).",
        ),
        Route(
            "search_evaluation_datasets",
            "POST",
            f"{V3}/datasets/search",
            _search_evaluation_datasets,
            fields=(
                Field("experiment_ids", repeated=True),
                Field("filter_string"),
                Field("max_results", "int32"),
                Field("order_by", repeated=True),
                Field("page_token"),
            ),
            summary="MLflow's GenAI evaluation datasets: tracklet keeps none, so always an empty page.",
        ),
        Route(
            "get_assistant_config",
            "GET",
            "/ajax-api/3.0/mlflow/assistant/config",
            _assistant_config,
            summary="MLflow's AI assistant configuration: tracklet runs no assistant, so none.",
        ),
        Route(
            "get_assistant_providers",
            "GET",
            "/ajax-api/3.0/mlflow/assistant/providers",
            _assistant_providers,
            summary="MLflow's AI assistant providers, none available (tracklet runs no assistant).",
        ),
        Route(
            "gateway_proxy",
            "GET",
            "/ajax-api/2.0/mlflow/gateway-proxy",
            _gateway_proxy,
            fields=(Field("gateway_path"), Field("json_data", "object")),
            summary="MLflow's AI gateway proxy with no gateway configured: no endpoints.",
            also=("POST",),
        ),
    ]
