"""MLflow's REST API 2.0, defined once for both ends of the wire.

The client store (:mod:`tracklet_http.client`), the server
(:mod:`tracklet_http.server`) and the OpenAPI document the server publishes all read
this module, so what the server accepts, what the client sends and what the document
says cannot drift apart.

* :data:`ENDPOINTS` — every tracking endpoint: method, path, request fields, response
  shape and whether a retry after an unknown outcome is safe;
* :func:`parse_request` — a request's JSON body (or query string) to checked Python
  values, refusing bad input with ``INVALID_PARAMETER_VALUE`` naming the field;
* ``*_to_json`` / ``*_from_json`` — entities to and from MLflow's JSON shapes (proto3
  JSON: ``int64`` as numbers, non-finite doubles as ``"NaN"``/``"Infinity"``/
  ``"-Infinity"``, empty fields left out).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tracklet.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    ExperimentTag,
    FileInfo,
    InputTag,
    LoggedModelInput,
    LoggedModelOutput,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
    RunStatus,
    RunTag,
    ViewType,
)
from tracklet.entities.wire import data_parts, metric_dicts, run_dicts, run_info_dict, run_parts
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.routes import Field  # one field type for the server's own endpoints and plugins' routes
from tracklet.validation import canonical_experiment_id, canonical_run_id, short_repr, validate_text

__all__ = [
    "API_PREFIX",
    "ARTIFACTS_PREFIX",
    "ENDPOINTS",
    "ENDPOINTS_BY_NAME",
    "MLFLOW_API_VERSION",
    "Endpoint",
    "Field",
    "SCHEMAS",
    "parse_request",
]

#: Where the tracking API lives.
API_PREFIX = "/api/2.0/mlflow"
#: Where the artifact proxy lives.
ARTIFACTS_PREFIX = "/api/2.0/mlflow-artifacts"
#: The MLflow release whose REST API this module reproduces: what ``GET /version``
#: answers, since MLflow's client reads it as a version number and gates features on it
#: (tracklet's own version is in the ``X-Tracklet-Version`` header of that answer).
MLFLOW_API_VERSION = "3.17.2"

# -- field types --------------------------------------------------------------------------

#: Scalar field types and the JSON Schema each is published as.
SCALAR_SCHEMAS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    # proto3 JSON allows int64 as a number or a decimal string; both are accepted.
    "int64": {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": r"^-?[0-9]+$"}]},
    "int32": {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": r"^-?[0-9]+$"}]},
    "double": {"oneOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]},
    "bool": {"type": "boolean"},
    # Ids in their one spelling: an experiment id that reads as a number is that number's
    # decimal form ("1", never "01", " 1", "+1" or "1_0"); older clients' JSON integers are
    # taken too. Checked once, here, before authorization looks the id up.
    "ExperimentId": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"},
    "RunId": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,255}$"},
    "ViewType": {"type": "string", "enum": ["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]},
    "RunStatus": {"type": "string", "enum": ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]},
    # for the routes plugins contribute (tracklet.routes.FIELD_TYPES): a JSON object as it came
    "object": {"type": "object"},
}

_KV = {
    "type": "object",
    "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
}

#: JSON Schemas of the objects in requests and responses (``#/components/schemas/<name>``).
SCHEMAS: dict[str, dict[str, Any]] = {
    # any {"key", "value"} pair (a registered model's tag, a logged model's param…), for
    # the routes plugins contribute: the handler receives (key, value)
    "KeyValue": _KV,
    "Param": _KV,
    "RunTag": _KV,
    "ExperimentTag": _KV,
    "InputTag": _KV,
    "Metric": {
        "type": "object",
        "properties": {
            "key": {"type": "string"},
            "value": SCALAR_SCHEMAS["double"],
            "timestamp": SCALAR_SCHEMAS["int64"],
            "step": SCALAR_SCHEMAS["int64"],
            "model_id": {"type": "string"},
            "dataset_name": {"type": "string"},
            "dataset_digest": {"type": "string"},
        },
    },
    "Dataset": {
        "type": "object",
        "properties": {
            name: {"type": "string"}
            for name in ("name", "digest", "source_type", "source", "schema", "profile")
        },
    },
    "DatasetInput": {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"$ref": "#/components/schemas/InputTag"}},
            "dataset": {"$ref": "#/components/schemas/Dataset"},
        },
    },
    "Experiment": {
        "type": "object",
        "properties": {
            "experiment_id": {"type": "string"},
            "name": {"type": "string"},
            "artifact_location": {"type": "string"},
            "lifecycle_stage": {"type": "string"},
            "last_update_time": {"type": "integer"},
            "creation_time": {"type": "integer"},
            "tags": {"type": "array", "items": {"$ref": "#/components/schemas/ExperimentTag"}},
        },
    },
    "RunInfo": {
        "type": "object",
        "properties": {
            "run_id": {"type": "string"},
            "run_uuid": {"type": "string"},
            "run_name": {"type": "string"},
            "experiment_id": {"type": "string"},
            "user_id": {"type": "string"},
            "status": SCALAR_SCHEMAS["RunStatus"],
            "start_time": {"type": "integer"},
            "end_time": {"type": "integer"},
            "artifact_uri": {"type": "string"},
            "lifecycle_stage": {"type": "string"},
        },
    },
    "RunData": {
        "type": "object",
        "properties": {
            "metrics": {"type": "array", "items": {"$ref": "#/components/schemas/Metric"}},
            "params": {"type": "array", "items": {"$ref": "#/components/schemas/Param"}},
            "tags": {"type": "array", "items": {"$ref": "#/components/schemas/RunTag"}},
        },
    },
    "RunInputs": {
        "type": "object",
        "properties": {
            "dataset_inputs": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/DatasetInput"},
            }
        },
    },
    "Run": {
        "type": "object",
        "properties": {
            "info": {"$ref": "#/components/schemas/RunInfo"},
            "data": {"$ref": "#/components/schemas/RunData"},
            "inputs": {"$ref": "#/components/schemas/RunInputs"},
        },
    },
    "FileInfo": {
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "is_dir": {"type": "boolean"},
            "file_size": {"type": "integer"},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error_code", "message"],
        "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
    },
}


@dataclass(frozen=True)
class Endpoint:
    """One REST endpoint.

    :param name: the operation's name, also the OpenAPI ``operationId``.
    :param method: the HTTP method MLflow's client uses; ``also`` lists others accepted.
    :param request: the fields the server reads; any other field is ignored, as MLflow does.
    :param response: top-level response fields: name -> schema name (``"X[]"`` = array).
    :param idempotent: whether repeating the call after an unknown outcome is harmless,
        so the client may retry it on 429, 5xx and broken connections.
    """

    name: str
    method: str
    path: str
    request: tuple[Field, ...] = ()
    response: Mapping[str, str] = field(default_factory=dict)
    idempotent: bool = True
    also: tuple[str, ...] = ()
    summary: str = ""

    @property
    def url_path(self) -> str:
        return API_PREFIX + self.path

    @property
    def methods(self) -> tuple[str, ...]:
        return (self.method, *self.also)


def _run_id_fields() -> tuple[Field, ...]:
    # MLflow sends both; run_uuid is the deprecated spelling. One of them is required.
    return (
        Field("run_id", "RunId", doc="the run's id"),
        Field("run_uuid", "RunId", doc="deprecated spelling of run_id"),
    )


def _experiment_id(required: bool = True) -> Field:
    return Field("experiment_id", "ExperimentId", required=required)


def _run_id() -> Field:
    return Field("run_id", "RunId", required=True)


_TOKEN = Field("page_token", doc="token from a previous page's next_page_token")

ENDPOINTS: tuple[Endpoint, ...] = (
    # -- experiments -------------------------------------------------------------------
    Endpoint(
        "create_experiment",
        "POST",
        "/experiments/create",
        (
            Field("name", required=True),
            Field("artifact_location"),
            Field("tags", "ExperimentTag", repeated=True),
        ),
        {"experiment_id": "string"},
        idempotent=False,
        summary="Create an experiment.",
    ),
    Endpoint(
        "search_experiments",
        "POST",
        "/experiments/search",
        (
            Field("max_results", "int64"),
            _TOKEN,
            Field("filter"),
            Field("order_by", repeated=True),
            Field("view_type", "ViewType"),
        ),
        {"experiments": "Experiment[]", "next_page_token": "string"},
        also=("GET",),
        summary="Search experiments.",
    ),
    Endpoint(
        "get_experiment",
        "GET",
        "/experiments/get",
        (_experiment_id(),),
        {"experiment": "Experiment"},
        summary="Get an experiment by id.",
    ),
    Endpoint(
        "get_experiment_by_name",
        "GET",
        "/experiments/get-by-name",
        (Field("experiment_name", required=True),),
        {"experiment": "Experiment"},
        summary="Get an experiment by name.",
    ),
    Endpoint(
        "delete_experiment",
        "POST",
        "/experiments/delete",
        (_experiment_id(),),
        summary="Soft-delete an experiment.",
    ),
    Endpoint(
        "restore_experiment",
        "POST",
        "/experiments/restore",
        (_experiment_id(),),
        summary="Restore a deleted experiment.",
    ),
    Endpoint(
        "update_experiment",
        "POST",
        "/experiments/update",
        (_experiment_id(), Field("new_name", required=True)),
        summary="Rename an experiment.",
    ),
    Endpoint(
        "set_experiment_tag",
        "POST",
        "/experiments/set-experiment-tag",
        (
            _experiment_id(),
            Field("key", required=True),
            Field("value", required=True),
        ),
        summary="Set an experiment tag.",
    ),
    Endpoint(
        "delete_experiment_tag",
        "POST",
        "/experiments/delete-experiment-tag",
        (_experiment_id(), Field("key", required=True)),
        summary="Delete an experiment tag.",
    ),
    Endpoint(
        "search_datasets",
        "POST",
        "/experiments/search-datasets",
        # checked by the handler, with MLflow's own messages (at least 1, at most 20)
        (Field("experiment_ids", "ExperimentId", repeated=True),),
        {"dataset_summaries": "DatasetSummary[]"},
        summary="The datasets the runs of some experiments used (MLflow's UI lists them).",
    ),
    # -- runs ----------------------------------------------------------------------------
    Endpoint(
        "create_run",
        "POST",
        "/runs/create",
        (
            _experiment_id(required=False),
            Field("user_id"),
            Field("run_name"),
            Field("start_time", "int64"),
            Field("tags", "RunTag", repeated=True),
        ),
        {"run": "Run"},
        idempotent=False,
        summary="Create a run.",
    ),
    Endpoint(
        "update_run",
        "POST",
        "/runs/update",
        (
            *_run_id_fields(),
            Field("status", "RunStatus"),
            Field("end_time", "int64"),
            Field("run_name"),
        ),
        {"run_info": "RunInfo"},
        summary="Update a run's status, end time or name.",
    ),
    Endpoint("delete_run", "POST", "/runs/delete", (_run_id(),), summary="Soft-delete a run."),
    Endpoint("restore_run", "POST", "/runs/restore", (_run_id(),), summary="Restore a deleted run."),
    Endpoint(
        "get_run",
        "GET",
        "/runs/get",
        _run_id_fields(),
        {"run": "Run"},
        summary="Get a run with its latest metrics, params, tags and inputs.",
    ),
    Endpoint(
        "log_metric",
        "POST",
        "/runs/log-metric",
        (
            *_run_id_fields(),
            Field("key", required=True),
            Field("value", "double", required=True),
            Field("timestamp", "int64", required=True),
            Field("step", "int64"),
            Field("model_id"),
            Field("dataset_name"),
            Field("dataset_digest"),
        ),
        summary="Log one metric value (with model_id, also a metric of that logged model).",
    ),
    Endpoint(
        "log_param",
        "POST",
        "/runs/log-parameter",
        (*_run_id_fields(), Field("key", required=True), Field("value", required=True)),
        summary="Log a param.",
    ),
    Endpoint(
        "set_tag",
        "POST",
        "/runs/set-tag",
        (*_run_id_fields(), Field("key", required=True), Field("value", required=True)),
        summary="Set a run tag.",
    ),
    Endpoint(
        "delete_tag",
        "POST",
        "/runs/delete-tag",
        (_run_id(), Field("key", required=True)),
        summary="Delete a run tag.",
    ),
    Endpoint(
        "log_batch",
        "POST",
        "/runs/log-batch",
        (
            _run_id(),
            Field("metrics", "Metric", repeated=True),
            Field("params", "Param", repeated=True),
            Field("tags", "RunTag", repeated=True),
        ),
        summary="Log metrics, params and tags in one call: all or none.",
    ),
    Endpoint(
        "log_inputs",
        "POST",
        "/runs/log-inputs",
        (
            _run_id(),
            Field("datasets", "DatasetInput", repeated=True),
            Field("models", "object", repeated=True, doc="{model_id}: logged models the run used"),
        ),
        summary="Record datasets (and logged models) a run used.",
    ),
    Endpoint(
        "search_runs",
        "POST",
        "/runs/search",
        (
            Field("experiment_ids", "ExperimentId", repeated=True),
            Field("filter"),
            Field("run_view_type", "ViewType"),
            Field("max_results", "int32"),
            Field("order_by", repeated=True),
            _TOKEN,
        ),
        {"runs": "Run[]", "next_page_token": "string"},
        summary="Search runs.",
    ),
    # -- metrics and artifacts -----------------------------------------------------------
    Endpoint(
        "get_metric_history",
        "GET",
        "/metrics/get-history",
        (
            *_run_id_fields(),
            Field("metric_key", required=True),
            _TOKEN,
            Field("max_results", "int32"),
        ),
        {"metrics": "Metric[]", "next_page_token": "string"},
        summary="Every logged value of one metric of a run.",
    ),
    Endpoint(
        "get_metric_history_bulk_interval",
        "GET",
        "/metrics/get-history-bulk-interval",
        (
            Field("run_ids", "RunId", repeated=True, required=True),
            Field("metric_key", required=True),
            Field("start_step", "int32"),
            Field("end_step", "int32"),
            Field("max_results", "int32"),
        ),
        {"metrics": "MetricWithRunId[]"},
        summary="One metric's history across runs, within a step range.",
    ),
    Endpoint(
        "get_metric_history_bulk",
        "GET",
        "/metrics/get-history-bulk",
        # required, but checked by the handler with MLflow's own messages
        (Field("run_id", "RunId", repeated=True), Field("metric_key"), Field("max_results", "int32")),
        {"metrics": "MetricWithRunId[]"},
        summary="One metric's whole history across runs (at most 100 runs, 25,000 values).",
    ),
    Endpoint(
        "list_artifacts",
        "GET",
        "/artifacts/list",
        (*_run_id_fields(), Field("path"), _TOKEN),
        {"root_uri": "string", "files": "FileInfo[]", "next_page_token": "string"},
        summary="List a run's artifacts (one level).",
    ),
    Endpoint(
        "search_logged_models",
        "POST",
        "/logged-models/search",
        (
            Field("experiment_ids", "ExperimentId", repeated=True),
            Field("filter"),
            Field("max_results", "int32"),
            _TOKEN,
        ),
        {"models": "LoggedModel[]", "next_page_token": "string"},
        summary="MLflow 3 logged models (none are kept: always an empty page).",
    ),
)

SCHEMAS["LoggedModel"] = {"type": "object"}
SCHEMAS["DatasetSummary"] = {
    "type": "object",
    "properties": {name: {"type": "string"} for name in ("experiment_id", "name", "digest", "context")},
}
SCHEMAS["MetricWithRunId"] = {
    "type": "object",
    "properties": {**SCHEMAS["Metric"]["properties"], "run_id": {"type": "string"}},
}

ENDPOINTS_BY_NAME: dict[str, Endpoint] = {e.name: e for e in ENDPOINTS}

# -- request parsing ------------------------------------------------------------------------


def _shown(value: Any, limit: int = 100) -> str:
    """``value`` as MLflow's messages quote it: compact JSON (``"foo"`` with double quotes,
    ``123``, ``9.0``), cut to ``limit`` characters; clients and tests match on this."""
    try:
        shown = json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return short_repr(value, limit)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def _bad(name: str, rule: str, value: Any) -> TrackletException:
    return TrackletException(
        f"Invalid value {_shown(value)} for parameter '{name}' supplied: {rule}",
        INVALID_PARAMETER_VALUE,
    )


def parse_int(value: Any, name: str) -> int:
    """An ``int64``: a JSON integer or a decimal string."""
    if isinstance(value, bool):
        raise _bad(name, "expected an integer.", value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        # 20 characters hold any int64; longer digit strings are refused by the range check
        # anyway, and int() of thousands of digits is slow (and refused past 4,300).
        if text.lstrip("-").isdigit() and text.isascii() and len(text) <= 40:
            return int(text)
    raise _bad(name, "expected an integer.", value)


_NONFINITE_IN = {
    "nan": math.nan,
    "infinity": math.inf,
    "-infinity": -math.inf,
    "inf": math.inf,
    "-inf": -math.inf,
}


def parse_double(value: Any, name: str) -> float:
    """A ``double``: a JSON number, or ``"NaN"``/``"Infinity"``/``"-Infinity"``."""
    if isinstance(value, bool):
        raise _bad(name, "expected a number.", value)
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            raise _bad(name, "the number is beyond the range of a double (about 1.8e308).", value) from None
    if isinstance(value, str):
        special = _NONFINITE_IN.get(value.strip().lower())
        if special is not None:
            return special
        try:
            return float(value)
        except ValueError:
            pass
    raise _bad(name, "expected a number.", value)


_isfinite = math.isfinite


def double_to_json(value: float) -> float | str:
    """proto3 JSON for a double: non-finite values become strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _parse_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _bad(name, "expected true or false.", value)


def _parse_view_type(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value in (1, 2, 3):
        return value
    if isinstance(value, str):
        upper = value.upper()
        if upper in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"):
            return int(ViewType.from_string(upper))
        if upper in ("1", "2", "3"):
            return int(upper)
    raise _bad(name, "expected one of ACTIVE_ONLY, DELETED_ONLY, ALL.", value)


def _parse_status(value: Any, name: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return str(RunStatus.to_string(value))
        except Exception:
            raise _bad(name, "expected a run status.", value) from None
    if isinstance(value, str) and value.upper() in SCALAR_SCHEMAS["RunStatus"]["enum"]:
        return value.upper()
    raise _bad(name, "expected one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED.", value)


def _parse_string(value: Any, name: str) -> str:
    # A number is refused as MLflow's server refuses it (``{"name": 123}`` is a 400, not
    # the experiment "123"); ids, which older clients send as numbers, are not strings here.
    if isinstance(value, str):
        validate_text(f"value for parameter '{name}'", value)
        return value
    raise _bad(name, f"Hint: Value was of type '{type(value).__name__}'; expected a string.", value)


def _parse_kv(value: Any, name: str) -> tuple[str, str]:
    if not isinstance(value, dict):
        raise _bad(name, "expected an object with 'key' and 'value'.", value)
    key = value.get("key")
    if key is None:
        raise _bad(f"{name}.key", "a key is required.", value)
    raw = value.get("value", "")
    return _parse_string(key, f"{name}.key"), "" if raw is None else _parse_string(raw, f"{name}.value")


def metric_from_json(value: Any, name: str = "metric", run_id: str | None = None) -> Metric:
    """A :class:`Metric` from ``{"key", "value", "timestamp", "step"}``."""
    if not isinstance(value, dict):
        raise _bad(name, "expected an object with key, value, timestamp and step.", value)
    for required in ("key", "value", "timestamp"):
        if value.get(required) is None:
            raise TrackletException(
                f"Missing value for required parameter '{name}.{required}'. "
                "Each metric needs key, value and timestamp.",
                INVALID_PARAMETER_VALUE,
            )
    return Metric(
        _parse_string(value["key"], f"{name}.key"),
        parse_double(value["value"], f"{name}.value"),
        parse_int(value["timestamp"], f"{name}.timestamp"),
        parse_int(value.get("step", 0) or 0, f"{name}.step"),
        run_id=value.get("run_id", run_id),
        **{
            link: _parse_string(value[link], f"{name}.{link}")
            for link in ("model_id", "dataset_name", "dataset_digest")
            if value.get(link) is not None
        },
    )


#: Metric keys already found storable, shared by requests (a training loop sends the same
#: keys again and again); emptied when it reaches :data:`_MAX_KNOWN_KEYS`.
_known_keys: set[str] = set()
_MAX_KNOWN_KEYS = 10_000


def metrics_from_json(values: list[Any], name: str) -> list[Metric]:
    """``[metric_from_json(v, f"{name}[i]") ...]`` for a ``log-batch`` list: the common
    shape (exactly ``key``, a float ``value``, integer ``timestamp`` and ``step``) is
    built directly, each key's text checked once; anything else goes through
    :func:`metric_from_json`, which names the offending item."""
    out: list[Metric] = []
    append = out.append
    known = _known_keys
    for i, value in enumerate(values):
        if type(value) is dict and len(value) == 4:
            key = value.get("key")
            number = value.get("value")
            timestamp = value.get("timestamp")
            step = value.get("step")
            if (
                type(key) is str
                and type(number) is float
                and type(timestamp) is int
                and type(step) is int
                and (key in known or _storable(key))
            ):
                append(Metric(key, number, timestamp, step))
                continue
        append(metric_from_json(value, f"{name}[{i}]"))
    return out


def _storable(key: str) -> bool:
    """Whether :func:`_parse_string` takes ``key`` (remembered if so; if not, the item is
    parsed again by :func:`metric_from_json`, for the error message)."""
    try:
        validate_text("", key)
    except TrackletException:
        return False
    if len(_known_keys) >= _MAX_KNOWN_KEYS:
        _known_keys.clear()
    _known_keys.add(key)
    return True


def dataset_input_from_json(value: Any, name: str = "datasets") -> DatasetInput:
    """A :class:`DatasetInput` from MLflow's JSON."""
    if not isinstance(value, dict) or not isinstance(value.get("dataset"), dict):
        raise _bad(name, "expected an object with a 'dataset'.", value)
    d = value["dataset"]
    fields = {}
    for key in ("name", "digest", "source_type", "source", "schema", "profile"):
        raw = d.get(key)
        fields[key] = None if raw is None else _parse_string(raw, f"{name}.dataset.{key}")
    tags = [InputTag(*_parse_kv(t, f"{name}.tags")) for t in _as_list(value.get("tags"), f"{name}.tags")]
    dataset = Dataset(
        fields["name"] or "",
        fields["digest"] or "",
        fields["source_type"] or "",
        fields["source"] or "",
        fields["schema"],
        fields["profile"],
    )
    return DatasetInput(dataset, tags)


def _as_list(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise _bad(name, "expected a list.", value)


def _parse_scalar(type_: str, value: Any, name: str) -> Any:
    if type_ == "string":
        return _parse_string(value, name)
    if type_ == "ExperimentId":
        return canonical_experiment_id(value, name)
    if type_ == "RunId":
        if not isinstance(value, str):  # MLflow: {"run_id": 31} is a 400, not "run 31"
            raise _bad(name, f"Hint: Value was of type '{type(value).__name__}'; expected a string.", value)
        return canonical_run_id(value, name)
    if type_ in ("int64", "int32"):
        return parse_int(value, name)
    if type_ == "double":
        return parse_double(value, name)
    if type_ == "bool":
        return _parse_bool(value, name)
    if type_ == "ViewType":
        return _parse_view_type(value, name)
    if type_ == "RunStatus":
        return _parse_status(value, name)
    if type_ == "Metric":
        return metric_from_json(value, name)
    if type_ == "Param":
        return Param(*_parse_kv(value, name))
    if type_ == "RunTag":
        return RunTag(*_parse_kv(value, name))
    if type_ == "ExperimentTag":
        return ExperimentTag(*_parse_kv(value, name))
    if type_ == "DatasetInput":
        return dataset_input_from_json(value, name)
    if type_ == "KeyValue":
        return _parse_kv(value, name)
    if type_ == "object":
        if not isinstance(value, dict):
            raise _bad(name, "expected an object.", value)
        return value
    raise AssertionError(f"unknown field type {type_}")  # a bug in ENDPOINTS


_ID_TYPES = ("ExperimentId", "RunId")
#: Required fields for which "" is a value (a param or tag may be empty), not "unset".
_MAY_BE_EMPTY = frozenset({"value"})


def parse_request(endpoint: Endpoint, data: Mapping[str, Any] | Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Check and convert a request: a parsed JSON body (a dict), or a query string as
    ``(name, value)`` pairs (repeated names give lists).

    Returns ``{field name: value}`` for the fields present (unknown fields are dropped,
    as MLflow's server does). Missing required fields and ill-typed values raise
    ``INVALID_PARAMETER_VALUE`` naming the field; so do text no backend can store (NUL,
    lone surrogates from a JSON ``\\ud800`` escape) and ids not in their one spelling
    (experiment ``"01"`` for ``"1"``: see :func:`tracklet.validation.canonical_experiment_id`),
    so authorization and the store see each object under one id.
    """
    is_json = isinstance(data, Mapping)
    if isinstance(data, Mapping):
        body: Mapping[str, Any] = data
    else:
        collected: dict[str, Any] = {}
        repeated = {f.name for f in endpoint.request if f.repeated}
        for key, value in data:
            if key in repeated:
                collected.setdefault(key, []).append(value)
            else:
                collected[key] = value
        body = collected
    out: dict[str, Any] = {}
    for f in endpoint.request:
        value = body.get(f.name)
        if value == "" and (f.type in _ID_TYPES or (f.required and f.name not in _MAY_BE_EMPTY)):
            value = None  # proto3's "unset": MLflow's server calls a required "" missing
        if value is None:
            if f.required:
                raise TrackletException(
                    f"Missing value for required parameter '{f.name}'. "
                    f"See the API docs for more information about request parameters.",
                    INVALID_PARAMETER_VALUE,
                )
            continue
        if f.repeated:
            if not isinstance(value, list):
                if is_json:  # MLflow refuses {"tags": "5"}; a query string has no lists
                    raise _bad(f.name, "expected a list.", value)
                value = [value]
            # objects are named by their place, as MLflow does: 'metrics[0].timestamp'
            indexed = f.type in SCHEMAS
            if f.type == "Metric":
                out[f.name] = metrics_from_json(value, f.name)
            else:
                out[f.name] = [
                    _parse_scalar(f.type, v, f"{f.name}[{i}]" if indexed else f.name)
                    for i, v in enumerate(value)
                ]
            if f.required and not out[f.name]:
                raise TrackletException(
                    f"Missing value for required parameter '{f.name}': at least one is needed.",
                    INVALID_PARAMETER_VALUE,
                )
        else:
            out[f.name] = _parse_scalar(f.type, value, f.name)
    run_fields = {f.name for f in endpoint.request}
    if "run_uuid" in run_fields and "run_id" not in out:
        if "run_uuid" in out:
            out["run_id"] = out["run_uuid"]
        else:
            raise TrackletException("Missing value for required parameter 'run_id'.", INVALID_PARAMETER_VALUE)
    out.pop("run_uuid", None)
    return out


# -- entities to JSON -----------------------------------------------------------------------


def _kv_list(items: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in items.items()]


def metric_to_json(m: Metric, with_run_id: bool = False) -> dict[str, Any]:
    value = m.value
    out: dict[str, Any] = {
        "key": m.key,
        "value": value if _isfinite(value) else double_to_json(value),
        "timestamp": m.timestamp,
        "step": m.step,
    }
    if with_run_id and m.run_id is not None:
        out["run_id"] = m.run_id
    return out


def metrics_to_json(metrics: list[Metric]) -> list[dict[str, Any]]:
    """``[metric_to_json(m) for m in metrics]``, without a call per metric or per field
    (a search page or a history converts thousands; :mod:`tracklet.entities.wire`)."""
    return metric_dicts(metrics, double_to_json, metric_to_json)


def experiment_to_json(e: Experiment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle_stage,
    }
    if e.last_update_time is not None:
        out["last_update_time"] = e.last_update_time
    if e.creation_time is not None:
        out["creation_time"] = e.creation_time
    if e.tags:
        out["tags"] = _kv_list(e.tags)
    return out


def run_info_to_json(info: RunInfo) -> dict[str, Any]:
    fast = run_info_dict(info)  # the same dict, from the slots of an exact RunInfo
    if fast is not None:
        return fast
    out: dict[str, Any] = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name or "",
        "experiment_id": info.experiment_id,
        "user_id": info.user_id or "",
        "status": info.status,
    }
    if info.start_time is not None:
        out["start_time"] = info.start_time
    if info.end_time is not None:
        out["end_time"] = info.end_time
    out["artifact_uri"] = info.artifact_uri or ""
    out["lifecycle_stage"] = info.lifecycle_stage
    return out


def dataset_input_to_json(d: DatasetInput) -> dict[str, Any]:
    ds = d.dataset
    dataset: dict[str, Any] = {
        "name": ds.name,
        "digest": ds.digest,
        "source_type": ds.source_type,
        "source": ds.source,
    }
    if ds.schema is not None:
        dataset["schema"] = ds.schema
    if ds.profile is not None:
        dataset["profile"] = ds.profile
    out: dict[str, Any] = {"dataset": dataset}
    if d.tags:
        out["tags"] = [{"key": t.key, "value": t.value} for t in d.tags]
    return out


def run_to_json(run: Run) -> dict[str, Any]:
    parts = run_parts(run)  # the slots of an exact Run and RunData, else the properties
    if parts is None:
        info, run_data, run_inputs, outputs = run.info, run.data, run.inputs, run.outputs
        metrics, params, tags = run_data.metric_objs, run_data.params, run_data.tags
    else:
        info, run_data, run_inputs, outputs = parts
        metrics, params, tags = data_parts(run_data)
    data: dict[str, Any] = {}
    if metrics:
        data["metrics"] = metrics_to_json(metrics)
    if params:
        data["params"] = [{"key": k, "value": v} for k, v in params.items()]
    if tags:
        data["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    out: dict[str, Any] = {"info": run_info_to_json(info), "data": data}
    if run_inputs is None:
        out["inputs"] = {}
    else:
        inputs = run_inputs.dataset_inputs
        out["inputs"] = {"dataset_inputs": [dataset_input_to_json(d) for d in inputs]} if inputs else {}
        model_inputs = run_inputs.model_inputs
        if model_inputs:
            out["inputs"]["model_inputs"] = [{"model_id": m.model_id} for m in model_inputs]
    if outputs is not None:
        models = outputs.model_outputs
        out["outputs"] = (
            {"model_outputs": [{"model_id": m.model_id, "step": m.step} for m in models]} if models else {}
        )
    return out


def runs_to_json(runs: list[Run]) -> list[dict[str, Any]]:
    """``[run_to_json(r) for r in runs]``, a search page in one loop
    (:func:`tracklet.entities.wire.run_dicts`)."""
    return run_dicts(runs, double_to_json, metric_to_json, run_to_json)


def file_info_to_json(f: FileInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"path": f.path, "is_dir": f.is_dir}
    if f.file_size is not None:
        out["file_size"] = f.file_size
    return out


# -- JSON to entities (the client side; lenient about missing fields) -----------------------


def experiment_from_json(d: Mapping[str, Any]) -> Experiment:
    return Experiment(
        str(d["experiment_id"]),
        d.get("name", ""),
        d.get("artifact_location", ""),
        d.get("lifecycle_stage", "active"),
        {t["key"]: t.get("value", "") for t in d.get("tags") or []},
        _opt_int(d.get("creation_time")),
        _opt_int(d.get("last_update_time")),
    )


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def run_info_from_json(d: Mapping[str, Any]) -> RunInfo:
    return RunInfo(
        run_id=d.get("run_id") or d.get("run_uuid"),
        experiment_id=str(d.get("experiment_id", "0")),
        user_id=d.get("user_id", ""),
        status=d.get("status", "RUNNING"),
        start_time=_opt_int(d.get("start_time")),
        end_time=_opt_int(d.get("end_time")),
        lifecycle_stage=d.get("lifecycle_stage", "active"),
        artifact_uri=d.get("artifact_uri"),
        run_name=d.get("run_name"),
    )


def metric_json_to_entity(d: Mapping[str, Any]) -> Metric:
    """A response's metric (trusted: no field checks beyond conversion)."""
    return Metric(
        d["key"],
        parse_double(d.get("value", 0.0), "value"),
        int(d.get("timestamp", 0)),
        int(d.get("step", 0)),
        run_id=d.get("run_id"),
    )


def run_from_json(d: Mapping[str, Any]) -> Run:
    data = d.get("data") or {}
    metrics = [metric_json_to_entity(m) for m in data.get("metrics") or []]
    params = [Param(p["key"], p.get("value", "")) for p in data.get("params") or []]
    tags = [RunTag(t["key"], t.get("value", "")) for t in data.get("tags") or []]
    inputs = (d.get("inputs") or {}).get("dataset_inputs") or []
    model_inputs = [
        LoggedModelInput(m["model_id"]) for m in (d.get("inputs") or {}).get("model_inputs") or []
    ]
    outputs = d.get("outputs")
    return Run(
        run_info_from_json(d["info"]),
        RunData(metrics=metrics, params=params, tags=tags),
        RunInputs([dataset_input_from_json(i) for i in inputs], model_inputs),
        None
        if outputs is None
        else RunOutputs(
            [
                LoggedModelOutput(o["model_id"], int(o.get("step") or 0))
                for o in outputs.get("model_outputs") or []
            ]
        ),
    )


def file_info_from_json(d: Mapping[str, Any]) -> FileInfo:
    size = d.get("file_size")
    return FileInfo(d["path"], bool(d.get("is_dir", False)), None if size is None else int(size))


def metric_to_request(m: Metric) -> dict[str, Any]:
    """A checked metric as the client sends it (a response's shape); numpy scalars and
    other number types become plain JSON numbers."""
    out: dict[str, Any] = {
        "key": m.key,
        "value": double_to_json(float(m.value)),
        "timestamp": int(m.timestamp),
        "step": int(m.step),
    }
    for link in ("model_id", "dataset_name", "dataset_digest"):  # MLflow 3's links, when set
        if getattr(m, link, None) is not None:
            out[link] = getattr(m, link)
    return out


def kv_to_request(item: Param | RunTag | ExperimentTag | InputTag) -> dict[str, str]:
    return {"key": item.key, "value": item.value}
