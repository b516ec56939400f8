"""The registry and logged-model entities against MLflow 3.17.2's own, imported here:
same constructors, printed forms, dictionaries, statuses, stages and wire bytes."""

from __future__ import annotations

from typing import Any

import mlflow.entities as ml
import mlflow.entities.model_registry as ml_registry
import pytest
from mlflow.entities.model_registry import model_version_stages as ml_stages
from mlflow.entities.model_registry.model_version_status import ModelVersionStatus as MlStatus
from mlflow.exceptions import MlflowException
from mlflow.protos import model_registry_pb2, service_pb2

import tracklet.entities as tl
import tracklet.entities.model_registry as tl_registry
from tracklet.entities.model_registry import model_version_stages as tl_stages
from tracklet.entities.model_registry.model_version_status import ModelVersionStatus as TlStatus
from tracklet.exceptions import TrackletException

_VERSION_CASES: list[dict[str, Any]] = [
    {"name": "m", "version": "1", "creation_timestamp": 123},
    {
        "name": "model a",
        "version": "12",
        "creation_timestamp": 1_700_000_000_000,
        "last_updated_timestamp": 1_700_000_000_500,
        "description": "multi\nline 'quoted'",
        "user_id": "alice",
        "current_stage": "Production",
        "source": "s3://bucket/path",
        "run_id": "0123456789abcdef0123456789abcdef",
        "status": "PENDING_REGISTRATION",
        "status_message": "wait",
        "run_link": "http://x/y",
        "aliases": ["champion", "b"],
        "model_id": "m-abc",
    },
]


def _version(module: Any, case: dict[str, Any], tags: dict[str, str]) -> Any:
    return module.ModelVersion(**case, tags=[module.ModelVersionTag(k, v) for k, v in tags.items()])


@pytest.mark.parametrize("case", _VERSION_CASES)
@pytest.mark.parametrize("tags", [{}, {"k": "v", "long": "x" * 100}])
def test_model_version_prints_as_mlflow(case: dict[str, Any], tags: dict[str, str]) -> None:
    ours, theirs = _version(tl_registry, case, tags), _version(ml_registry, case, tags)
    assert repr(ours) == repr(theirs)
    assert str(ours) == str(theirs)
    assert dict(ours) == dict(theirs)


def _model(module: Any, with_versions: bool) -> Any:
    versions = [_version(module, case, {"a": "b"}) for case in _VERSION_CASES] if with_versions else None
    return module.RegisteredModel(
        "my model",
        1,
        2,
        "desc",
        versions,
        [module.RegisteredModelTag("k", "v"), module.RegisteredModelTag("mlflow.prompt.is_prompt", "false")],
        [module.RegisteredModelAlias("champion", "12")],
    )


@pytest.mark.parametrize("with_versions", [False, True])
def test_registered_model_prints_as_mlflow(with_versions: bool) -> None:
    ours, theirs = _model(tl_registry, with_versions), _model(ml_registry, with_versions)
    assert repr(ours) == repr(theirs)
    assert str(ours) == str(theirs)
    assert ours.tags == theirs.tags == {"k": "v"}  # the prompt marker is hidden
    assert ours.aliases == theirs.aliases


def test_registered_model_defaults_print_as_mlflow() -> None:
    assert repr(tl_registry.RegisteredModel("x")) == repr(ml_registry.RegisteredModel("x"))


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("RegisteredModelTag", ("k", "v")),
        ("ModelVersionTag", ("k", "v")),
        ("RegisteredModelAlias", ("a", "3")),
    ],
)
def test_small_registry_entities_print_as_mlflow(name: str, args: tuple[str, str]) -> None:
    ours, theirs = getattr(tl_registry, name)(*args), getattr(ml_registry, name)(*args)
    assert repr(ours) == repr(theirs)
    assert dict(ours) == dict(theirs)
    assert ours == getattr(tl_registry, name)(*args)
    assert ours != getattr(tl_registry, name)(args[0], "other")


def test_model_version_equality_and_setters() -> None:
    case = _VERSION_CASES[1]
    first, second = _version(tl_registry, case, {"k": "v"}), _version(tl_registry, case, {"k": "v"})
    assert first == second
    assert first != _version(tl_registry, case, {"k": "other"})
    first.description = "changed"
    first.current_stage = "Archived"
    first.aliases = ["x"]
    assert (first.description, first.current_stage, first.aliases) == ("changed", "Archived", ["x"])
    assert first != second


def test_registry_to_dictionary_is_plain() -> None:
    as_dict = _model(tl_registry, True).to_dictionary()
    assert as_dict["name"] == "my model"
    assert as_dict["latest_versions"][0]["version"] == "1"
    assert as_dict["aliases"] == {"champion": "12"}


def _logged_model(module: Any, **overrides: Any) -> Any:
    args: dict[str, Any] = {
        "experiment_id": "3",
        "model_id": "m-0123",
        "name": "my-model",
        "artifact_location": "file:///a/models/m-0123/artifacts",
        "creation_timestamp": 10,
        "last_updated_timestamp": 20,
        "model_type": "clf",
        "source_run_id": "r1",
        "tags": {"a": "b"},
        "params": [module.LoggedModelParameter("lr", "0.1")],
    }
    args.update(overrides)
    return module.LoggedModel(**args)


@pytest.mark.parametrize("status", [None, 1, 3])
def test_logged_model_prints_as_mlflow(status: int | None) -> None:
    extra = {} if status is None else {"status": status}
    ours, theirs = _logged_model(tl, **extra), _logged_model(ml, **extra)
    assert repr(ours) == repr(theirs)
    assert str(ours) == str(theirs)
    assert ours.to_dictionary() == theirs.to_dictionary()
    assert ours.model_uri == theirs.model_uri == "models:/m-0123"
    assert ours.tags == theirs.tags and ours.params == theirs.params


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("LoggedModelTag", ("k", "v")),
        ("LoggedModelParameter", ("k", "v")),
        ("LoggedModelInput", ("m-1",)),
        ("LoggedModelOutput", ("m-1", 3)),
    ],
)
def test_small_logged_model_entities_print_as_mlflow(name: str, args: tuple[Any, ...]) -> None:
    ours, theirs = getattr(tl, name)(*args), getattr(ml, name)(*args)
    assert repr(ours) == repr(theirs)


def test_logged_model_parameters_compare_by_key_as_mlflow() -> None:
    assert tl.LoggedModelParameter("k", "1") == tl.LoggedModelParameter("k", "2")
    assert tl.LoggedModelParameter("k", "1") != tl.LoggedModelParameter("j", "1")
    assert len({tl.LoggedModelParameter("k", "1"), tl.LoggedModelParameter("k", "2")}) == 1


def test_logged_model_status_is_mlflow_s() -> None:
    for member in ml.LoggedModelStatus:
        ours = tl.LoggedModelStatus(member.value)
        assert str(ours) == str(member) and repr(ours) == repr(member)
        assert ours.to_int() == member.to_int()
        assert tl.LoggedModelStatus.from_int(member.to_int()) is ours
        assert ours.to_proto() == member.to_proto()
        assert tl.LoggedModelStatus.is_finalized(ours) == ml.LoggedModelStatus.is_finalized(member)
    with pytest.raises(TrackletException) as excinfo:
        tl.LoggedModelStatus.from_int(9)
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"
    assert tl.LoggedModelStatus.READY == "READY"


def test_model_version_status_is_mlflow_s() -> None:
    assert (TlStatus.PENDING_REGISTRATION, TlStatus.FAILED_REGISTRATION, TlStatus.READY) == (
        MlStatus.PENDING_REGISTRATION,
        MlStatus.FAILED_REGISTRATION,
        MlStatus.READY,
    )
    for number in MlStatus.all_status():
        assert TlStatus.to_string(number) == MlStatus.to_string(number)
        assert TlStatus.from_string(MlStatus.to_string(number)) == number
    assert TlStatus.all_status() == MlStatus.all_status()


def test_stages_are_mlflow_s() -> None:
    for name in (
        "STAGE_NONE",
        "STAGE_STAGING",
        "STAGE_PRODUCTION",
        "STAGE_ARCHIVED",
        "STAGE_DELETED_INTERNAL",
    ):
        assert getattr(tl_stages, name) == getattr(ml_stages, name)
    assert tl_stages.ALL_STAGES == ml_stages.ALL_STAGES
    assert (
        tl_stages.DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS == ml_stages.DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS
    )
    for given in ("none", "STAGING", "Production", "archived"):
        assert tl_stages.get_canonical_stage(given) == ml_stages.get_canonical_stage(given)
    with pytest.raises(TrackletException) as ours:
        tl_stages.get_canonical_stage("prod")
    with pytest.raises(MlflowException) as theirs:
        ml_stages.get_canonical_stage("prod")
    assert ours.value.message == theirs.value.message
    assert ours.value.error_code == theirs.value.error_code == "INVALID_PARAMETER_VALUE"


def test_exported_names_follow_mlflow() -> None:
    for name in (
        "LoggedModel",
        "LoggedModelInput",
        "LoggedModelOutput",
        "LoggedModelParameter",
        "LoggedModelStatus",
        "LoggedModelTag",
    ):
        assert name in tl.__all__ and name in ml.__all__
    for name in tl_registry.__all__:  # tracklet also exports the status class at package level
        assert hasattr(ml_registry, name) or name == "ModelVersionStatus", name


# -- wire bytes: ours parse with MLflow's classes and the other way round ----------------------


def test_model_version_wire_bytes_both_ways() -> None:
    ours = _version(tl_registry, _VERSION_CASES[1], {"k": "v"})
    parsed = ml_registry.ModelVersion.from_proto(
        model_registry_pb2.ModelVersion.FromString(ours.to_proto().SerializeToString())
    )
    assert repr(parsed) == repr(
        ml_registry.ModelVersion.from_proto(_version(ml_registry, _VERSION_CASES[1], {"k": "v"}).to_proto())
    )
    theirs = _version(ml_registry, _VERSION_CASES[1], {"k": "v"}).to_proto().SerializeToString()
    back = tl_registry.ModelVersion.from_proto(type(ours.to_proto()).FromString(theirs))
    assert back.version == "12" and back.tags == {"k": "v"} and back.aliases == ["champion", "b"]
    assert back.status == "PENDING_REGISTRATION" and back.current_stage == "Production"


def test_registered_model_wire_bytes_both_ways() -> None:
    ours = _model(tl_registry, True)
    data = ours.to_proto().SerializeToString()
    # the same bytes but for model_id, which tracklet sends (field 15 of MLflow's message)
    ml_model = _model(ml_registry, True)
    assert model_registry_pb2.RegisteredModel.FromString(data) != ml_model.to_proto()
    assert ours.latest_versions is not None
    assert [
        v.model_id for v in tl_registry.RegisteredModel.from_proto(ours.to_proto()).latest_versions or []
    ] == [
        None,
        "m-abc",
    ]
    plain = tl_registry.RegisteredModel("x", 1, 2, "d", [tl_registry.ModelVersion("x", "1", 5)])
    ml_plain = ml_registry.RegisteredModel("x", 1, 2, "d", [ml_registry.ModelVersion("x", "1", 5)])
    assert plain.to_proto().SerializeToString() == ml_plain.to_proto().SerializeToString()
    theirs = ml_registry.RegisteredModel.from_proto(model_registry_pb2.RegisteredModel.FromString(data))
    back = tl_registry.RegisteredModel.from_proto(type(ours.to_proto()).FromString(data))
    assert repr(back).replace("model_id='m-abc'", "model_id=None") == repr(theirs)


def test_logged_model_wire_bytes_both_ways() -> None:
    ours = _logged_model(tl, status=2)
    data = ours.to_proto().SerializeToString()
    assert data == _logged_model(ml, status=2).to_proto().SerializeToString()
    theirs = ml.LoggedModel.from_proto(service_pb2.LoggedModel.FromString(data))
    back = tl.LoggedModel.from_proto(type(ours.to_proto()).FromString(data))
    assert repr(back) == repr(theirs)
    assert back.tags == theirs.tags and back.params == theirs.params


def test_registry_messages_are_declared_as_in_mlflows_model_registry_proto() -> None:
    from tracklet.entities import _proto

    for name, fields in _proto._REGISTRY_MESSAGES.items():
        theirs = {f.name: f for f in model_registry_pb2.DESCRIPTOR.message_types_by_name[name].fields}
        ours = _proto.message(name).DESCRIPTOR
        assert ours.full_name == f"mlflow.{name}"
        assert len(fields) <= len(theirs)
        for field in ours.fields:  # a subset of MLflow's fields, each as MLflow declares it
            mine = theirs[field.name]
            assert (field.number, field.type, field.is_repeated) == (mine.number, mine.type, mine.is_repeated)
    states = model_registry_pb2.DeploymentJobConnection.State
    ours_enum = _proto.message("RegisteredModel").DESCRIPTOR.file.enum_types_by_name
    assert [(v.name, v.number) for v in ours_enum["DeploymentJobConnectionState"].values] == list(
        states.items()
    )
    assert [(v.name, v.number) for v in ours_enum["ModelVersionStatus"].values] == list(
        model_registry_pb2.ModelVersionStatus.items()
    )
