"""The registry's and logged models' JSON, as MLflow 3.17.2's server writes and reads it.

One module for both ends of the wire: the server's handlers
(:mod:`tracklet_registry.server.handlers`) write entities with the ``*_to_json``
functions, and the REST store (:mod:`tracklet_registry.rest`) reads answers with the
``*_from_json`` ones, so what one end writes the other reads. The shapes are proto JSON of
``model_registry.proto`` and ``service.proto`` (proto2: a field set to its default is
still written; empty lists are left out), checked against a real ``mlflow server``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tracklet.entities import (
    LoggedModel,
    LoggedModelOutput,
    LoggedModelParameter,
    LoggedModelStatus,
    LoggedModelTag,
    Metric,
)
from tracklet.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

__all__ = [
    "LOGGED_MODEL_STATUS_NAMES",
    "kv_list",
    "logged_model_from_json",
    "logged_model_status_from_json",
    "logged_model_status_to_json",
    "logged_model_to_json",
    "model_output_from_json",
    "model_version_from_json",
    "model_version_to_json",
    "registered_model_from_json",
    "registered_model_to_json",
]

#: The wire names of :class:`~tracklet.entities.LoggedModelStatus` (``service.proto``).
LOGGED_MODEL_STATUS_NAMES: dict[LoggedModelStatus, str] = {
    LoggedModelStatus.UNSPECIFIED: "LOGGED_MODEL_STATUS_UNSPECIFIED",
    LoggedModelStatus.PENDING: "LOGGED_MODEL_PENDING",
    LoggedModelStatus.READY: "LOGGED_MODEL_READY",
    LoggedModelStatus.FAILED: "LOGGED_MODEL_UPLOAD_FAILED",
}
_STATUS_BY_NAME = {name: status for status, name in LOGGED_MODEL_STATUS_NAMES.items()}
_STATUS_BY_NUMBER = dict(enumerate(LOGGED_MODEL_STATUS_NAMES))


def kv_list(items: Mapping[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` as MLflow's ``[{"key": "k", "value": "v"}]``."""
    return [{"key": key, "value": value} for key, value in items.items()]


def _kv_pairs(items: Iterable[Any] | None) -> list[tuple[str, str]]:
    return [(str(item.get("key", "")), str(item.get("value", ""))) for item in items or ()]


# -- registered models and versions -----------------------------------------------------


def model_version_to_json(mv: ModelVersion) -> dict[str, Any]:
    """A model version as MLflow's ``ModelVersion`` message (``version`` a string).

    ``model_id`` is written too when the version has one (MLflow's server leaves the
    field of its proto unset; its client ignores it, tracklet's reads it)."""
    out: dict[str, Any] = {
        "name": mv.name,
        "version": str(mv.version),
        "creation_timestamp": mv.creation_timestamp,
    }
    optional = {
        "last_updated_timestamp": mv.last_updated_timestamp,
        "user_id": mv.user_id,
        "current_stage": mv.current_stage,
        "description": mv.description,
        "source": None if mv.source is None else str(mv.source),
        "run_id": None if mv.run_id is None else str(mv.run_id),
        "status": mv.status,
        "status_message": mv.status_message or None,
    }
    out.update({key: value for key, value in optional.items() if value is not None})
    if mv.tags:
        out["tags"] = kv_list(mv.tags)
    # MLflow's server stores an absent run link as the proto's default and writes it back
    out["run_link"] = "" if mv.run_link is None else str(mv.run_link)
    if mv.aliases:
        out["aliases"] = list(mv.aliases)
    if mv.model_id:
        out["model_id"] = mv.model_id
    return out


def model_version_from_json(d: Mapping[str, Any]) -> ModelVersion:
    """The :class:`ModelVersion` in a ``ModelVersion`` message."""
    mv = ModelVersion(
        d.get("name", ""),
        str(d.get("version", "")),
        _opt_int(d.get("creation_timestamp")) or 0,
        _opt_int(d.get("last_updated_timestamp")),
        d.get("description"),
        d.get("user_id", ""),
        d.get("current_stage", ""),
        d.get("source", ""),
        d.get("run_id"),
        d.get("status", "READY"),
        d.get("status_message"),
        tags=[ModelVersionTag(key, value) for key, value in _kv_pairs(d.get("tags"))],
        run_link=d.get("run_link", ""),
        aliases=list(d.get("aliases") or []),
        model_id=d.get("model_id") or None,
    )
    return mv


def registered_model_to_json(rm: RegisteredModel) -> dict[str, Any]:
    """A registered model as MLflow's ``RegisteredModel`` message."""
    out: dict[str, Any] = {"name": rm.name}
    if rm.creation_timestamp is not None:
        out["creation_timestamp"] = rm.creation_timestamp
    if rm.last_updated_timestamp:
        out["last_updated_timestamp"] = rm.last_updated_timestamp
    if rm.description:
        out["description"] = rm.description
    if rm.latest_versions:
        out["latest_versions"] = [model_version_to_json(mv) for mv in rm.latest_versions]
    if rm.tags:
        out["tags"] = kv_list(rm.tags)
    if rm.aliases:
        out["aliases"] = [{"alias": alias, "version": str(version)} for alias, version in rm.aliases.items()]
    if getattr(rm, "deployment_job_id", None):
        out["deployment_job_id"] = rm.deployment_job_id
    return out


def registered_model_from_json(d: Mapping[str, Any]) -> RegisteredModel:
    """The :class:`RegisteredModel` in a ``RegisteredModel`` message."""
    return RegisteredModel(
        d.get("name", ""),
        _opt_int(d.get("creation_timestamp")),
        _opt_int(d.get("last_updated_timestamp")),
        d.get("description"),
        [model_version_from_json(v) for v in d.get("latest_versions") or ()],
        [RegisteredModelTag(key, value) for key, value in _kv_pairs(d.get("tags"))],
        [RegisteredModelAlias(a.get("alias", ""), str(a.get("version", ""))) for a in d.get("aliases") or ()],
        deployment_job_id=d.get("deployment_job_id") or None,
    )


# -- logged models ---------------------------------------------------------------------------


def logged_model_status_to_json(status: LoggedModelStatus) -> str:
    """``LoggedModelStatus.READY`` -> ``"LOGGED_MODEL_READY"``."""
    return LOGGED_MODEL_STATUS_NAMES[LoggedModelStatus(status)]


def logged_model_status_from_json(value: Any, name: str = "status") -> LoggedModelStatus:
    """A status as the wire gives it (its enum name, or number), refusing anything else
    with ``INVALID_PARAMETER_VALUE`` naming the field."""
    if isinstance(value, str) and value in _STATUS_BY_NAME:
        return _STATUS_BY_NAME[value]
    if isinstance(value, str) and value in LoggedModelStatus.__members__:
        return LoggedModelStatus[value]
    number = value
    if isinstance(value, str) and value.isdigit():
        number = int(value)
    if isinstance(number, int) and not isinstance(number, bool) and number in _STATUS_BY_NUMBER:
        return _STATUS_BY_NUMBER[number]
    raise TrackletException(
        f"Invalid value {value!r} for parameter '{name}' supplied: expected one of "
        f"{sorted(_STATUS_BY_NAME)}.",
        INVALID_PARAMETER_VALUE,
    )


def _metric_to_json(m: Metric) -> dict[str, Any]:
    out: dict[str, Any] = {"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step}
    for attr in ("model_id", "dataset_name", "dataset_digest", "run_id"):
        value = getattr(m, attr, None)
        if value:
            out[attr] = value
    return out


def logged_model_to_json(model: LoggedModel) -> dict[str, Any]:
    """A logged model as MLflow's ``LoggedModel`` message: ``{"info": ..., "data": ...}``."""
    info: dict[str, Any] = {
        "model_id": model.model_id,
        "experiment_id": model.experiment_id,
        "name": model.name,
        "creation_timestamp_ms": model.creation_timestamp,
        "last_updated_timestamp_ms": model.last_updated_timestamp,
        "artifact_uri": model.artifact_location,
        "status": logged_model_status_to_json(model.status),
    }
    # as MLflow's server: an absent model type is the proto's default, written back
    info["model_type"] = model.model_type or ""
    if model.source_run_id is not None:
        info["source_run_id"] = model.source_run_id
    if model.status_message is not None:
        info["status_message"] = model.status_message
    if model.tags:
        info["tags"] = kv_list(model.tags)
    data: dict[str, Any] = {}
    if model.params:
        data["params"] = kv_list(model.params)
    if model.metrics:
        data["metrics"] = [_metric_to_json(m) for m in model.metrics]
    return {"info": info, "data": data}


def logged_model_from_json(d: Mapping[str, Any]) -> LoggedModel:
    """The :class:`LoggedModel` in a ``LoggedModel`` message."""
    info = d.get("info") or {}
    data = d.get("data") or {}
    metrics = [
        Metric(
            m.get("key", ""),
            float(m.get("value", 0.0)),
            _opt_int(m.get("timestamp")) or 0,
            _opt_int(m.get("step")) or 0,
            model_id=m.get("model_id") or None,
            dataset_name=m.get("dataset_name") or None,
            dataset_digest=m.get("dataset_digest") or None,
            run_id=m.get("run_id") or None,
        )
        for m in data.get("metrics") or ()
    ]
    return LoggedModel(
        experiment_id=info.get("experiment_id", ""),
        model_id=info.get("model_id", ""),
        name=info.get("name", ""),
        artifact_location=info.get("artifact_uri", ""),
        creation_timestamp=_opt_int(info.get("creation_timestamp_ms")) or 0,
        last_updated_timestamp=_opt_int(info.get("last_updated_timestamp_ms")) or 0,
        model_type=info.get("model_type"),
        source_run_id=info.get("source_run_id"),
        status=logged_model_status_from_json(info.get("status", "LOGGED_MODEL_STATUS_UNSPECIFIED")),
        status_message=info.get("status_message"),
        tags=[LoggedModelTag(key, value) for key, value in _kv_pairs(info.get("tags"))],
        params=[LoggedModelParameter(key, value) for key, value in _kv_pairs(data.get("params"))],
        metrics=metrics or None,
    )


def model_output_from_json(value: Any, name: str = "models") -> LoggedModelOutput:
    """One ``ModelOutput`` of a ``LogOutputs`` request: ``{"model_id", "step"}``."""
    if not isinstance(value, Mapping) or not isinstance(value.get("model_id"), str) or not value["model_id"]:
        raise TrackletException(
            f"Invalid value {value!r} for parameter '{name}' supplied: expected an object "
            "with a model_id string and a step.",
            INVALID_PARAMETER_VALUE,
        )
    step = value.get("step", 0)
    try:
        step_int = int(step)
    except (TypeError, ValueError):
        raise TrackletException(
            f"Invalid value {step!r} for parameter '{name}.step' supplied: expected an integer.",
            INVALID_PARAMETER_VALUE,
        ) from None
    return LoggedModelOutput(value["model_id"], step_int)


def _opt_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)
