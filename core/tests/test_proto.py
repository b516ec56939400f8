"""to_proto()/from_proto(): tracklet's entities on MLflow's own wire messages.

tracklet declares the messages itself (tracklet.entities._proto); these tests hold that
declaration to MLflow's generated ``service_pb2``: the same names, numbers and types,
bytes that each side parses into the same fields, and protobuf imported only when called.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from types import ModuleType
from typing import Any

import pytest

from tracklet import entities as tl
from tracklet.entities import _proto


@pytest.fixture(scope="module")
def me() -> ModuleType:
    import mlflow.entities

    return mlflow.entities


@pytest.fixture(scope="module")
def pb() -> ModuleType:
    from mlflow.protos import service_pb2

    return service_pb2


def _field_facts(descriptor: Any) -> list[tuple[Any, ...]]:
    return sorted(
        (
            f.name,
            f.number,
            f.type,
            f.label if hasattr(f, "label") else f.is_repeated,
            f.message_type.full_name if f.message_type else None,
            f.enum_type.full_name if f.enum_type else None,
            (f.has_default_value, f.default_value),
        )
        for f in descriptor.fields
    )


@pytest.mark.parametrize("name", sorted(_proto._MESSAGES))
def test_each_message_is_declared_as_in_mlflows_service_proto(pb: ModuleType, name: str) -> None:
    ours = _proto.message(name).DESCRIPTOR
    theirs = pb.DESCRIPTOR.message_types_by_name[name]
    assert ours.full_name == theirs.full_name == f"mlflow.{name}"
    assert _field_facts(ours) == _field_facts(theirs)


@pytest.mark.parametrize("name", sorted(_proto._ENUMS))
def test_each_enum_is_declared_as_in_mlflows_service_proto(pb: ModuleType, name: str) -> None:
    ours = _proto.message("RunInfo").DESCRIPTOR.file.enum_types_by_name[name]
    theirs = pb.DESCRIPTOR.enum_types_by_name[name]
    assert [(v.name, v.number) for v in ours.values] == [(v.name, v.number) for v in theirs.values]


def test_the_messages_live_in_a_private_pool(pb: ModuleType) -> None:
    from google.protobuf import descriptor_pool

    ours = _proto.message("Metric")
    assert ours is not pb.Metric
    assert ours.DESCRIPTOR.file.pool is not descriptor_pool.Default()
    assert descriptor_pool.Default().FindMessageTypeByName("mlflow.Metric") is pb.Metric.DESCRIPTOR


def _cases(me: ModuleType) -> dict[str, tuple[Any, Any, str]]:
    """name -> (tracklet entity, MLflow entity, wire message name), from the same arguments."""
    out: dict[str, tuple[Any, Any, str]] = {}

    def both(label: str, cls: str, *args: Any, message: str | None = None) -> None:
        out[label] = (getattr(tl, cls)(*args), getattr(me, cls)(*args), message or cls)

    both("Param", "Param", "lr", "0.1")
    both("RunTag", "RunTag", "mlflow.runName", "swift-owl")
    both("ExperimentTag", "ExperimentTag", "k", "")
    both("InputTag", "InputTag", "mlflow.data.context", "train")
    both("Metric", "Metric", "loss", 0.25, 1700000000000, 3)
    both("Metric/negative step", "Metric", "loss", float("inf"), 0, -4)
    both("Metric/links", "Metric", "acc", 1.0, 5, 0, "model-1", "ds", "d1g", "run-9")
    both("FileInfo", "FileInfo", "a/b.txt", False, 12)
    both("FileInfo/dir", "FileInfo", "a", True, None)
    both("Dataset", "Dataset", "iris", "abc", "local", '{"uri": "x"}', '{"s": 1}', '{"rows": 3}')
    both("Dataset/bare", "Dataset", "iris", "abc", "local", "{}")
    both("Experiment/mlflow 3", "Experiment", "4", "e", "s3://b/4", "active", None, 1, 2, "ws", None, "30d")
    both("RunInfo", "RunInfo", "r1", "7", "ann", "FINISHED", 10, 20, "active", "file:///a", "swift-owl")
    both("RunInfo/running", "RunInfo", "r1", "7", "", "RUNNING", 10, None, "deleted")
    pairs = [
        (
            m.RunData(
                [m.Metric("loss", 0.5, 123, 4), m.Metric("acc", 0.9, 124, 4)],
                [m.Param("lr", "0.1"), m.Param("bs", "32")],
                [m.RunTag("team", "ml")],
            ),
            m.DatasetInput(m.Dataset("d", "1", "local", "{}"), [m.InputTag("b", "2"), m.InputTag("a", "1")]),
            m.Experiment("3", "exp", "file:///x", "deleted", [m.ExperimentTag("k", "v")], 5, 6),
        )
        for m in (tl, me)
    ]
    out["RunData"] = (pairs[0][0], pairs[1][0], "RunData")
    out["DatasetInput"] = (pairs[0][1], pairs[1][1], "DatasetInput")
    out["RunInputs"] = (tl.RunInputs([pairs[0][1]]), me.RunInputs([pairs[1][1]]), "RunInputs")
    out["Experiment"] = (pairs[0][2], pairs[1][2], "Experiment")
    out["Experiment/no times"] = (
        tl.Experiment("0", "Default", "file:///m/0", "active"),
        me.Experiment("0", "Default", "file:///m/0", "active"),
        "Experiment",
    )
    out["Run"] = (
        tl.Run(out["RunInfo"][0], out["RunData"][0], out["RunInputs"][0]),
        me.Run(out["RunInfo"][1], out["RunData"][1], out["RunInputs"][1]),
        "Run",
    )
    return out


CASES = [
    "Param",
    "RunTag",
    "ExperimentTag",
    "InputTag",
    "Metric",
    "Metric/negative step",
    "Metric/links",
    "FileInfo",
    "FileInfo/dir",
    "Dataset",
    "Dataset/bare",
    "RunInfo",
    "RunInfo/running",
    "RunData",
    "DatasetInput",
    "RunInputs",
    "Experiment",
    "Experiment/no times",
    "Experiment/mlflow 3",
    "Run",
]


@pytest.mark.parametrize("label", CASES)
def test_our_bytes_parse_with_mlflows_classes_as_mlflows_own(
    me: ModuleType, pb: ModuleType, label: str
) -> None:
    ours, theirs, message = _cases(me)[label]
    parsed = getattr(pb, message).FromString(ours.to_proto().SerializeToString())
    expected = theirs.to_proto()
    assert parsed == expected
    assert parsed.ListFields() == expected.ListFields()  # the same fields set, not only equal values


@pytest.mark.parametrize("label", CASES)
def test_mlflows_bytes_read_back_as_mlflow_reads_them(me: ModuleType, label: str) -> None:
    ours, theirs, message = _cases(me)[label]
    wire = theirs.to_proto().SerializeToString()
    back = type(ours).from_proto(_proto.message(message).FromString(wire))
    their_back = type(theirs).from_proto(type(theirs.to_proto()).FromString(wire))
    # MLflow reads an absent outputs message as an empty RunOutputs; tracklet keeps None
    skipped = {"outputs"} if message == "Run" else set()
    assert [(k, repr(v)) for k, v in back if k not in skipped] == [
        (k, repr(v)) for k, v in their_back if k not in skipped
    ]


@pytest.mark.parametrize("label", CASES)
def test_round_trip_through_our_own_messages(me: ModuleType, label: str) -> None:
    ours, _, _ = _cases(me)[label]
    again = type(ours).from_proto(ours.to_proto())
    assert type(again).from_proto(again.to_proto()).to_proto() == again.to_proto()


def test_run_info_status_goes_as_the_enum_number_and_legacy_fields_stay_off_the_wire(pb: ModuleType) -> None:
    info = tl.RunInfo("r", "1", "n", tl.SourceType.JOB, "src", "main", "u", "KILLED", 1, 2, "v", "active")
    parsed = pb.RunInfo.FromString(info.to_proto().SerializeToString())
    assert parsed.status == pb.KILLED == 5
    assert (parsed.run_id, parsed.run_uuid, parsed.run_name, parsed.user_id) == ("r", "r", "n", "u")
    assert tl.RunInfo.from_proto(parsed).source_type is None


def test_view_type_wire_values_are_mlflows(pb: ModuleType) -> None:
    for name in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"):
        number = pb.ViewType.Value(name)
        assert tl.ViewType.to_proto(getattr(tl.ViewType, name)) == number
        assert tl.ViewType.from_proto(number) == getattr(tl.ViewType, name)


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_tracklet_and_using_entities_does_not_import_protobuf() -> None:
    result = _run_python(
        """
        import sys
        import tracklet
        from tracklet.entities import Metric, Run, RunData, RunInfo, ViewType
        run = Run(RunInfo("r", "1", "u", "RUNNING", 1, None, "active"), RunData([Metric("m", 1.0, 1, 0)]))
        repr(run); run.to_dictionary(); dict(run.info); ViewType.to_proto(ViewType.ALL)
        assert not [m for m in sys.modules if m.startswith("google.protobuf")], "protobuf imported"
        run.to_proto()
        assert "google.protobuf" in sys.modules
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_without_protobuf_to_proto_says_what_to_install() -> None:
    result = _run_python(
        """
        import sys
        sys.modules["google"] = None  # as on a machine without protobuf: importing it fails
        from tracklet.entities import Param
        assert repr(Param("k", "v")) == "<Param: key='k', value='v'>"
        try:
            Param("k", "v").to_proto()
        except ImportError as e:
            print(e)
        """
    )
    assert result.returncode == 0, result.stderr
    assert 'pip install "tracklet[proto]"' in result.stdout
    assert 'pip install "./core[proto]"' in result.stdout


def test_both_libraries_messages_in_one_process_either_order() -> None:
    """Building tracklet's messages first, then importing MLflow's (and the other way) does not clash."""
    for first, second in (("ours", "theirs"), ("theirs", "ours")):
        result = _run_python(
            f"""
            def ours():
                from tracklet.entities import Param
                return Param("k", "v").to_proto().SerializeToString()
            def theirs():
                from mlflow.protos import service_pb2
                return service_pb2.Param(key="k", value="v").SerializeToString()
            assert {first}() == {second}()
            print("ok")
            """
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "ok"
