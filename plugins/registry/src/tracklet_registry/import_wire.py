"""The JSON of ``tracklet server``'s registry import routes (``tracklet migrate`` into a
server), shared by the server's handlers and :class:`~tracklet_registry.rest.RestRegistryStore`.

The routes are tracklet's own, under ``/api/2.0/tracklet/`` (MLflow's server has none).
Entities travel with every field, ``null`` kept as ``null`` (MLflow's registry messages
turn an absent run link or user into ``""``, which a copy must not do).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracklet.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)

__all__ = ["PATHS", "model_from_wire", "model_to_wire", "version_from_wire", "version_to_wire"]

_BASE = "/api/2.0/tracklet"
PATHS = {
    "import_registered_model": f"{_BASE}/registered-models/import",
    "import_model_version": f"{_BASE}/model-versions/import",
    "import_registered_model_aliases": f"{_BASE}/registered-models/import-aliases",
    "get_last_version_number": f"{_BASE}/registered-models/get-last-version-number",
}
_VERSION_FIELDS = (
    "creation_timestamp",
    "last_updated_timestamp",
    "description",
    "user_id",
    "current_stage",
    "source",
    "run_id",
    "run_link",
    "status",
    "status_message",
    "model_id",
)


def model_to_wire(model: RegisteredModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "creation_timestamp": model.creation_timestamp,
        "last_updated_timestamp": model.last_updated_timestamp,
        "description": model.description,
        "deployment_job_id": model.deployment_job_id,
        "tags": dict(model.tags),
    }


def model_from_wire(d: Mapping[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=str(d.get("name", "")),
        creation_timestamp=d.get("creation_timestamp"),
        last_updated_timestamp=d.get("last_updated_timestamp"),
        description=d.get("description"),
        tags=[RegisteredModelTag(str(k), str(v)) for k, v in dict(d.get("tags") or {}).items()],
        deployment_job_id=d.get("deployment_job_id"),
    )


def version_to_wire(version: ModelVersion) -> dict[str, Any]:
    out: dict[str, Any] = {"name": version.name, "version": str(version.version)}
    out.update({field: getattr(version, field) for field in _VERSION_FIELDS})
    out["tags"] = dict(version.tags)
    return out


def version_from_wire(d: Mapping[str, Any]) -> ModelVersion:
    values: dict[str, Any] = {field: d.get(field) for field in _VERSION_FIELDS}
    values["status"] = values["status"] or "READY"
    return ModelVersion(
        name=str(d.get("name", "")),
        version=str(d.get("version", "")),
        tags=[ModelVersionTag(str(k), str(v)) for k, v in dict(d.get("tags") or {}).items()],
        **values,
    )
