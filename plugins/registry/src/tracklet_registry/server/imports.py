"""``tracklet server``'s own registry routes for copying into its registry (``tracklet
migrate`` with a server as destination), at :data:`tracklet_registry.import_wire.PATHS`.

Each calls one copy primitive of the server's registry store (capability ``import``).
With ``--auth`` only admins may import: an import writes what the ordinary calls refuse
(given version numbers, stages and times) and may overwrite any model; its sources are
the source registry's, stored as they were (a download location is never fetched by
the server). Reading a model's last version number needs READ on it.
"""

from __future__ import annotations

from typing import Any

from tracklet.exceptions import PERMISSION_DENIED, TrackletException
from tracklet.routes import Field, Route, RoutePermission
from tracklet_registry import import_wire as w

__all__ = ["import_routes"]


def _require_admin(request: Any, what: str) -> None:
    authorizer = getattr(request, "authorizer", None)
    username = getattr(request, "username", None)
    if authorizer is None or username is None:
        return
    if not authorizer.caller(username).is_admin:
        raise TrackletException(
            f"Permission denied: only admins may call {what} (an import may overwrite any "
            f"registered model); user '{username}' is not an admin. Ask an admin to run "
            "`tracklet migrate`, or to make you one.",
            PERMISSION_DENIED,
        )


def import_registered_model(request: Any) -> dict[str, Any]:
    _require_admin(request, "registered-models/import")
    model = w.model_from_wire(request.params["registered_model"])
    request.registry_store.import_registered_model(model, int(request.params.get("last_version") or 0))
    return {}


def import_model_version(request: Any) -> dict[str, Any]:
    _require_admin(request, "model-versions/import")
    version = w.version_from_wire(request.params["model_version"])
    request.registry_store.import_model_version(version, request.params.get("storage_location") or None)
    return {}


def import_registered_model_aliases(request: Any) -> dict[str, Any]:
    _require_admin(request, "registered-models/import-aliases")
    aliases = {
        str(a.get("alias", "")): str(a.get("version", "")) for a in request.params.get("aliases") or []
    }
    request.registry_store.import_registered_model_aliases(request.params["name"], aliases)
    return {}


def get_last_version_number(request: Any) -> dict[str, Any]:
    return {"last_version": request.registry_store.get_last_version_number(request.params["name"])}


def import_routes() -> list[Route]:
    """The four routes."""
    paths = w.PATHS
    name = Field("name", required=True, doc="the registered model's name")
    return [
        Route(
            "import_registered_model",
            "POST",
            paths["import_registered_model"],
            import_registered_model,
            (
                Field("registered_model", "object", required=True, doc="name, times, description, tags"),
                Field("last_version", "int64", doc="the highest number the source gave (deleted included)"),
            ),
            summary="Create or overwrite a registered model with its times and tags (admins).",
        ),
        Route(
            "import_model_version",
            "POST",
            paths["import_model_version"],
            import_model_version,
            (
                Field(
                    "model_version", "object", required=True, doc="a version with its number and every field"
                ),
                Field("storage_location", doc="where it downloads from (default: its source)"),
            ),
            summary="Create or overwrite a model version with its number, stage and times (admins).",
        ),
        Route(
            "import_registered_model_aliases",
            "POST",
            paths["import_registered_model_aliases"],
            import_registered_model_aliases,
            (name, Field("aliases", "object", repeated=True, doc="[{alias, version}]: the model's aliases")),
            summary="Replace a registered model's aliases (admins).",
        ),
        Route(
            "get_last_version_number",
            "GET",
            paths["get_last_version_number"],
            get_last_version_number,
            (name,),
            summary="The highest version number a registered model gave, deleted versions included.",
            permission=RoutePermission("registered_model", "name", "READ"),
        ),
    ]
