"""MLflow's wire messages (package ``mlflow``), built in code for ``to_proto``/``from_proto``.

The message and enum names, field names, numbers and types are MLflow's, from
``mlflow/protos/service.proto`` (proto2), so bytes from ``to_proto().SerializeToString()``
parse with MLflow's own ``service_pb2`` classes and the other way round. Only the
messages the tracking entities use are declared. They are registered in a private
``DescriptorPool``: MLflow's generated classes, if imported in the same process, live in
the default pool and never clash with these.

protobuf is an optional extra (``pip install "tracklet[proto]"``), imported on the first
``to_proto``/``from_proto`` call and never by ``import tracklet``.
"""

from __future__ import annotations

import threading
from typing import Any

INSTALL_HINT = 'pip install "tracklet[proto]" (from a clone of the repository: pip install "./core[proto]")'

# Enum values, as in service.proto. SourceType.UNKNOWN is 1000 on the wire (5 in Python).
_ENUMS: dict[str, tuple[tuple[str, int], ...]] = {
    "ViewType": (("ACTIVE_ONLY", 1), ("DELETED_ONLY", 2), ("ALL", 3)),
    "SourceType": (("NOTEBOOK", 1), ("JOB", 2), ("PROJECT", 3), ("LOCAL", 4), ("UNKNOWN", 1000)),
    "RunStatus": (("RUNNING", 1), ("SCHEDULED", 2), ("FINISHED", 3), ("FAILED", 4), ("KILLED", 5)),
    "LoggedModelStatus": (
        ("LOGGED_MODEL_STATUS_UNSPECIFIED", 0),
        ("LOGGED_MODEL_PENDING", 1),
        ("LOGGED_MODEL_READY", 2),
        ("LOGGED_MODEL_UPLOAD_FAILED", 3),
    ),
}

# message -> fields (name, number, type); a type is a scalar name, "enum:<Enum>",
# "msg:<Message>" or "[]msg:<Message>" (repeated).
_MESSAGES: dict[str, tuple[tuple[str, int, str], ...]] = {
    "Metric": (
        ("key", 1, "string"),
        ("value", 2, "double"),
        ("timestamp", 3, "int64"),
        ("step", 4, "int64"),
        ("dataset_name", 5, "string"),
        ("dataset_digest", 6, "string"),
        ("model_id", 7, "string"),
        ("run_id", 8, "string"),
    ),
    "Param": (("key", 1, "string"), ("value", 2, "string")),
    "RunTag": (("key", 1, "string"), ("value", 2, "string")),
    "ExperimentTag": (("key", 1, "string"), ("value", 2, "string")),
    "InputTag": (("key", 1, "string"), ("value", 2, "string")),
    "Dataset": (
        ("name", 1, "string"),
        ("digest", 2, "string"),
        ("source_type", 3, "string"),
        ("source", 4, "string"),
        ("schema", 5, "string"),
        ("profile", 6, "string"),
    ),
    "DatasetInput": (("tags", 1, "[]msg:InputTag"), ("dataset", 2, "msg:Dataset")),
    "ModelInput": (("model_id", 1, "string"),),
    "ModelOutput": (("model_id", 1, "string"), ("step", 2, "int64")),
    "RunInputs": (("dataset_inputs", 1, "[]msg:DatasetInput"), ("model_inputs", 2, "[]msg:ModelInput")),
    "RunOutputs": (("model_outputs", 1, "[]msg:ModelOutput"),),
    "RunInfo": (
        ("run_id", 15, "string"),
        ("run_uuid", 1, "string"),
        ("run_name", 3, "string"),
        ("experiment_id", 2, "string"),
        ("user_id", 6, "string"),
        ("status", 7, "enum:RunStatus"),
        ("start_time", 8, "int64"),
        ("end_time", 9, "int64"),
        ("artifact_uri", 13, "string"),
        ("lifecycle_stage", 14, "string"),
    ),
    "RunData": (("metrics", 1, "[]msg:Metric"), ("params", 2, "[]msg:Param"), ("tags", 3, "[]msg:RunTag")),
    "Run": (
        ("info", 1, "msg:RunInfo"),
        ("data", 2, "msg:RunData"),
        ("inputs", 3, "msg:RunInputs"),
        ("outputs", 4, "msg:RunOutputs"),
    ),
    "Experiment": (
        ("experiment_id", 1, "string"),
        ("name", 2, "string"),
        ("artifact_location", 3, "string"),
        ("lifecycle_stage", 4, "string"),
        ("last_update_time", 5, "int64"),
        ("creation_time", 6, "int64"),
        ("tags", 7, "[]msg:ExperimentTag"),
        ("effective_trace_archival_retention", 8, "string"),
        ("workspace", 9, "string"),
    ),
    "FileInfo": (("path", 1, "string"), ("is_dir", 2, "bool"), ("file_size", 3, "int64")),
    "DatasetSummary": (
        ("experiment_id", 1, "string"),
        ("name", 2, "string"),
        ("digest", 3, "string"),
        ("context", 4, "string"),
    ),
    "LoggedModelTag": (("key", 1, "string"), ("value", 2, "string")),
    "LoggedModelParameter": (("key", 1, "string"), ("value", 2, "string")),
    "LoggedModelRegistrationInfo": (("name", 1, "string"), ("version", 2, "string")),
    "LoggedModelInfo": (
        ("model_id", 1, "string"),
        ("experiment_id", 2, "string"),
        ("name", 3, "string"),
        ("creation_timestamp_ms", 4, "int64"),
        ("last_updated_timestamp_ms", 5, "int64"),
        ("artifact_uri", 6, "string"),
        ("status", 7, "enum:LoggedModelStatus"),
        ("creator_id", 8, "int64"),
        ("model_type", 9, "string"),
        ("source_run_id", 10, "string"),
        ("status_message", 11, "string"),
        ("tags", 12, "[]msg:LoggedModelTag"),
        ("registrations", 13, "[]msg:LoggedModelRegistrationInfo"),
    ),
    "LoggedModelData": (("params", 1, "[]msg:LoggedModelParameter"), ("metrics", 2, "[]msg:Metric")),
    "LoggedModel": (("info", 1, "msg:LoggedModelInfo"), ("data", 2, "msg:LoggedModelData")),
}

# From model_registry.proto (same package ``mlflow``), declared in the same file here; the
# Databricks-only fields are left out. MLflow's nested DeploymentJobConnection.State is
# declared at top level (same numbers on the wire).
_REGISTRY_ENUMS: dict[str, tuple[tuple[str, int], ...]] = {
    "ModelVersionStatus": (("PENDING_REGISTRATION", 1), ("FAILED_REGISTRATION", 2), ("READY", 3)),
    "DeploymentJobConnectionState": (
        ("DEPLOYMENT_JOB_CONNECTION_STATE_UNSPECIFIED", 0),
        ("NOT_SET_UP", 1),
        ("CONNECTED", 2),
        ("NOT_FOUND", 3),
        ("REQUIRED_PARAMETERS_CHANGED", 4),
    ),
}
_REGISTRY_MESSAGES: dict[str, tuple[tuple[str, int, str], ...]] = {
    "RegisteredModelTag": (("key", 1, "string"), ("value", 2, "string")),
    "ModelVersionTag": (("key", 1, "string"), ("value", 2, "string")),
    "RegisteredModelAlias": (("alias", 1, "string"), ("version", 2, "string")),
    "ModelVersion": (
        ("name", 1, "string"),
        ("version", 2, "string"),
        ("creation_timestamp", 3, "int64"),
        ("last_updated_timestamp", 4, "int64"),
        ("user_id", 5, "string"),
        ("current_stage", 6, "string"),
        ("description", 7, "string"),
        ("source", 8, "string"),
        ("run_id", 9, "string"),
        ("status", 10, "enum:ModelVersionStatus"),
        ("status_message", 11, "string"),
        ("tags", 12, "[]msg:ModelVersionTag"),
        ("run_link", 13, "string"),
        ("aliases", 14, "[]string"),
        ("model_id", 15, "string"),
    ),
    "RegisteredModel": (
        ("name", 1, "string"),
        ("creation_timestamp", 2, "int64"),
        ("last_updated_timestamp", 3, "int64"),
        ("user_id", 4, "string"),
        ("description", 5, "string"),
        ("latest_versions", 6, "[]msg:ModelVersion"),
        ("tags", 7, "[]msg:RegisteredModelTag"),
        ("aliases", 8, "[]msg:RegisteredModelAlias"),
        ("deployment_job_id", 9, "string"),
        ("deployment_job_state", 10, "enum:DeploymentJobConnectionState"),
    ),
}

# Explicit defaults service.proto declares ("optional int64 step = 4 [default = 0]").
_DEFAULTS = {("Metric", "step"): "0"}


def _protobuf() -> Any:
    """The protobuf modules, or an ImportError that says how to install them."""
    try:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    except ImportError as e:
        raise ImportError(f"to_proto()/from_proto() need protobuf: {INSTALL_HINT}") from e
    return descriptor_pb2, descriptor_pool, message_factory


def _file_descriptor(descriptor_pb2: Any) -> Any:
    """The FileDescriptorProto declaring the messages above in package ``mlflow``."""
    fdp = descriptor_pb2.FileDescriptorProto(
        name="tracklet/mlflow_service.proto", package="mlflow", syntax="proto2"
    )
    field_type = descriptor_pb2.FieldDescriptorProto
    scalars = {
        "string": field_type.TYPE_STRING,
        "double": field_type.TYPE_DOUBLE,
        "int64": field_type.TYPE_INT64,
        "bool": field_type.TYPE_BOOL,
    }
    for enum_name, values in {**_ENUMS, **_REGISTRY_ENUMS}.items():
        enum = fdp.enum_type.add(name=enum_name)
        for value_name, number in values:
            enum.value.add(name=value_name, number=number)
    for message_name, fields in {**_MESSAGES, **_REGISTRY_MESSAGES}.items():
        message = fdp.message_type.add(name=message_name)
        for name, number, type_ in fields:
            field = message.field.add(name=name, number=number, label=field_type.LABEL_OPTIONAL)
            if type_.startswith("[]"):
                field.label = field_type.LABEL_REPEATED
                type_ = type_[2:]
            kind, _, target = type_.partition(":")
            if kind == "msg":
                field.type, field.type_name = field_type.TYPE_MESSAGE, f".mlflow.{target}"
            elif kind == "enum":
                field.type, field.type_name = field_type.TYPE_ENUM, f".mlflow.{target}"
            else:
                field.type = scalars[kind]
            if (message_name, name) in _DEFAULTS:
                field.default_value = _DEFAULTS[(message_name, name)]
    return fdp


_lock = threading.Lock()
_built: dict[str, Any] = {}


def _classes() -> dict[str, Any]:
    """The message classes, built once per process: two threads racing on the first call
    must not get classes from two pools (messages of different pools cannot be merged)."""
    if not _built:
        with _lock:
            if not _built:
                _built.update(_build())
    return _built


def _build() -> dict[str, Any]:
    descriptor_pb2, descriptor_pool, message_factory = _protobuf()
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(_file_descriptor(descriptor_pb2).SerializeToString())
    get_class = getattr(message_factory, "GetMessageClass", None)
    if get_class is None:  # protobuf < 4.22
        get_class = message_factory.MessageFactory(pool).GetPrototype
    names = [*_MESSAGES, *_REGISTRY_MESSAGES]
    return {name: get_class(pool.FindMessageTypeByName(f"mlflow.{name}")) for name in names}


def message(name: str) -> Any:
    """The class of MLflow's wire message ``mlflow.<name>`` (imports protobuf on first use)."""
    return _classes()[name]


def file_descriptor_proto() -> Any:
    """The declaration as a FileDescriptorProto (for tools and tests that compare it with MLflow's)."""
    descriptor_pb2, _, _ = _protobuf()
    return _file_descriptor(descriptor_pb2)
