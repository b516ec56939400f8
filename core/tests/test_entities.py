"""tracklet.entities against MLflow's own entities (seed 004's surface, MLflow 3.17's behaviour).

The same constructor arguments build a tracklet entity and an MLflow one; their repr,
iteration, dictionaries and equality must read the same. MLflow is imported in this
process (``mlflow.entities`` imports cleanly under ``filterwarnings = error``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from tracklet import entities as tl
from tracklet.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    FileInfo,
    InputTag,
    LifecycleStage,
    Metric,
    PagedList,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
    RunTag,
    SourceType,
    ViewType,
)
from tracklet.exceptions import TrackletException


@pytest.fixture(scope="module")
def me() -> ModuleType:
    import mlflow.entities

    return mlflow.entities


def make_run() -> Run:
    info = RunInfo(
        run_id="abc123",
        experiment_id="7",
        user_id="me",
        status="FINISHED",
        start_time=10,
        end_time=20,
        lifecycle_stage="active",
        artifact_uri="file:///tmp/a",
        run_name="swift-owl",
    )
    data = RunData(
        metrics=[Metric("loss", 0.5, 123, 4)], params=[Param("lr", "0.1")], tags=[RunTag("team", "ml")]
    )
    inputs = RunInputs([DatasetInput(Dataset("d", "123", "local", "{}"), [InputTag("ctx", "train")])])
    return Run(info, data, inputs)


def test_run_attributes_match_mlflow_names():
    run = make_run()
    assert run.info.run_id == run.info.run_uuid == "abc123"
    assert run.info.run_name == run.info.name == "swift-owl"
    assert run.info.experiment_id == "7"
    assert run.data.metrics == {"loss": 0.5}
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags == {"team": "ml"}
    assert run.data.metric_objs[0].step == 4
    assert run.inputs.dataset_inputs[0].dataset.name == "d"
    assert run.outputs is None


def test_run_dictionary_round_trip():
    run = make_run()
    d = run.to_dictionary()
    assert d["info"]["run_id"] == "abc123"
    assert d["data"] == {"metrics": {"loss": 0.5}, "params": {"lr": "0.1"}, "tags": {"team": "ml"}}
    assert d["inputs"]["dataset_inputs"][0]["tags"] == {"ctx": "train"}
    back = Run.from_dictionary(d)
    assert back.info == run.info
    assert back.data.params == run.data.params
    assert back.inputs == run.inputs


def test_experiment_round_trip_and_repr():
    exp = Experiment("1", "exp", "file:///x", "active", {"k": "v"}, 5, 6)
    assert Experiment.from_dictionary(exp.to_dictionary()) == exp
    assert "name='exp'" in repr(exp)
    assert exp.tags == {"k": "v"}
    assert Experiment.DEFAULT_EXPERIMENT_ID == "0"
    assert (Experiment.ACTIVE_LIFECYCLE, Experiment.DELETED_LIFECYCLE) == ("active", "deleted")


def test_metric_equality_treats_nan_as_equal():
    assert Metric("m", math.nan, 1, 0) == Metric("m", math.nan, 1, 0)
    assert Metric("m", 1.0, 1, 0) != Metric("m", 1.0, 1, 1)
    assert Metric("m", 1.0, 1, 2).to_dictionary() == {
        "key": "m",
        "value": 1.0,
        "timestamp": 1,
        "step": 2,
        "model_id": None,
        "dataset_name": None,
        "dataset_digest": None,
        "run_id": None,
    }


def test_metric_dataset_pair_and_dictionary_keys_are_checked():
    with pytest.raises(TrackletException, match="Both dataset_name and dataset_digest") as e:
        Metric("m", 1.0, 1, 0, dataset_name="d")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(TrackletException, match=r"Missing required keys \['step'\]"):
        Metric.from_dictionary({"key": "m", "value": 1.0, "timestamp": 1})
    m = Metric("m", 1.0, 1, 2, "model-1", "d", "abc", "run-1")
    assert Metric.from_dictionary(m.to_dictionary()) == m


def test_file_info_and_paged_list():
    f = FileInfo("a/b.txt", False, 3)
    assert FileInfo.from_dictionary(f.to_dictionary()) == f
    page = PagedList([1, 2], "tok")
    assert page == [1, 2] and page.token == "tok" and page.to_list() == [1, 2]


def test_enums():
    assert RunStatus.to_string(RunStatus.FINISHED) == "FINISHED"
    assert RunStatus.from_string("FAILED") == 4
    assert RunStatus.is_terminated("KILLED") and not RunStatus.is_terminated(RunStatus.RUNNING)
    with pytest.raises(TrackletException) as e:
        RunStatus.from_string("DONE")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert ViewType.from_string("all") == ViewType.ALL == 3
    assert ViewType.to_string(2) == "deleted_only"
    assert ViewType.from_string("DELETED_ONLY") == 2  # the wire spelling, which tracklet's callers send
    assert SourceType.from_string("LOCAL") == SourceType.LOCAL == 4
    assert LifecycleStage.view_type_to_stages(ViewType.ALL) == ["active", "deleted"]
    assert LifecycleStage.view_type_to_stages() == ["active", "deleted"]
    assert LifecycleStage.matches_view_type(ViewType.DELETED_ONLY, "deleted")
    with pytest.raises(TrackletException, match="Invalid view type '7'"):
        LifecycleStage.matches_view_type(7, "active")


# -- the same behaviour as MLflow's enums ------------------------------------------------


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """A call's result, or that it raised (MLflow raises bare Exceptions; only the fact counts)."""
    try:
        return ("ok", call())
    except Exception as e:  # noqa: BLE001 - compared, not swallowed
        return ("raised", str(e) if not isinstance(e, ValueError) else f"ValueError: {e}")


ENUM_CALLS: list[tuple[str, str, tuple[Any, ...]]] = [
    *[
        ("RunStatus", "from_string", (s,))
        for s in ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED", "x")
    ],
    *[("RunStatus", "to_string", (n,)) for n in range(0, 7)],
    *[("RunStatus", "is_terminated", (n,)) for n in range(0, 7)],
    ("RunStatus", "all_status", ()),
    *[("SourceType", "from_string", (s,)) for s in ("NOTEBOOK", "JOB", "PROJECT", "LOCAL", "UNKNOWN", "x")],
    *[("SourceType", "to_string", (n,)) for n in range(0, 7)],
    *[("ViewType", "from_string", (s,)) for s in ("active_only", "deleted_only", "all", "Active_Only", "x")],
    *[("ViewType", "to_string", (n,)) for n in range(0, 5)],
    *[("ViewType", "to_proto", (n,)) for n in range(0, 5)],
    *[("ViewType", "from_proto", (n,)) for n in range(0, 5)],
    *[("LifecycleStage", "view_type_to_stages", (n,)) for n in range(0, 5)],
    ("LifecycleStage", "view_type_to_stages", ()),
    *[("LifecycleStage", "is_valid", (s,)) for s in ("active", "deleted", "ACTIVE", "")],
    *[
        ("LifecycleStage", "matches_view_type", (n, s))
        for n in range(1, 5)
        for s in ("active", "deleted", "x")
    ],
]


@pytest.mark.parametrize(("cls", "method", "args"), ENUM_CALLS)
def test_enum_methods_behave_like_mlflows(
    me: ModuleType, cls: str, method: str, args: tuple[Any, ...]
) -> None:
    ours = _outcome(lambda: getattr(getattr(tl, cls), method)(*args))
    theirs = _outcome(lambda: getattr(getattr(me, cls), method)(*args))
    assert ours[0] == theirs[0], (ours, theirs)
    if ours[0] == "ok":
        assert ours == theirs
    elif cls != "SourceType":  # MLflow's SourceType errors say "run status"; tracklet's say "source type"
        assert ours[1].split(".")[0] == theirs[1].split(".")[0]


def test_enum_constants_are_mlflows(me: ModuleType) -> None:
    for cls, names in {
        "RunStatus": ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"),
        "SourceType": ("NOTEBOOK", "JOB", "PROJECT", "LOCAL", "UNKNOWN"),
        "ViewType": ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"),
        "LifecycleStage": ("ACTIVE", "DELETED"),
    }.items():
        for name in names:
            assert getattr(getattr(tl, cls), name) == getattr(getattr(me, cls), name), (cls, name)
    assert tl.SourceType.SOURCETYPE_TO_STRING == me.SourceType.SOURCETYPE_TO_STRING


def test_is_terminated_also_takes_the_status_name() -> None:
    """A documented extension: MLflow's takes the number only (and says False for a name)."""
    assert [RunStatus.is_terminated(s) for s in ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")] == [
        False,
        False,
        True,
        True,
        True,
    ]
    assert not RunStatus.is_terminated("DONE")


# -- the legacy RunInfo of seed 004 -----------------------------------------------------


def test_run_info_takes_seed_004s_positional_order() -> None:
    info = RunInfo(
        "abc",
        3,
        "my-run",
        SourceType.PROJECT,
        "git@x:y.git",
        "main",
        "ann",
        "FINISHED",
        10,
        20,
        "deadbeef",
        "active",
    )
    assert (info.run_uuid, info.run_id, info.experiment_id, info.name, info.run_name) == (
        "abc",
        "abc",
        "3",
        "my-run",
        "my-run",
    )
    assert (info.source_type, info.source_name, info.entry_point_name, info.source_version) == (
        SourceType.PROJECT,
        "git@x:y.git",
        "main",
        "deadbeef",
    )
    assert (info.user_id, info.status, info.start_time, info.end_time) == ("ann", "FINISHED", 10, 20)
    assert (info.lifecycle_stage, info.artifact_uri) == ("active", None)
    with_uri = RunInfo("abc", "3", "n", 4, "s", "e", "u", "RUNNING", 1, None, "v", "deleted", "file:///a")
    assert with_uri.artifact_uri == "file:///a" and with_uri.lifecycle_stage == "deleted"
    assert (RunInfo.ACTIVE_LIFECYCLE, RunInfo.DELETED_LIFECYCLE) == ("active", "deleted")


def test_run_info_legacy_fields_by_keyword_and_their_defaults() -> None:
    plain = RunInfo("abc", "1", "u", "RUNNING", 1, None, "active")
    assert (plain.source_type, plain.source_name, plain.entry_point_name, plain.source_version) == (None,) * 4
    keyed = RunInfo(
        run_uuid="abc", name="n", source_type=SourceType.LOCAL, source_name="t.py", source_version="v"
    )
    assert (keyed.run_id, keyed.run_name, keyed.source_type, keyed.source_name) == ("abc", "n", 4, "t.py")
    assert keyed != RunInfo(
        run_uuid="abc", name="n", source_type=SourceType.JOB, source_name="t.py", source_version="v"
    )
    assert keyed._copy_with(status="FINISHED").source_name == "t.py"
    assert RunInfo.from_dictionary({**dict(keyed), "source_name": "t.py"}).source_name == "t.py"
    with pytest.raises(TypeError, match="up to 9 positional arguments"):
        RunInfo("a", "1", "u", "RUNNING", 1, None, "active", None, None, "extra")


# -- side by side with MLflow's entities --------------------------------------------------


def _pairs(me: ModuleType) -> dict[str, tuple[Any, Any]]:
    """name -> (tracklet entity, MLflow entity), built from the same arguments."""

    def both(name: str, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        def build(module: Any) -> Any:
            return getattr(module, name)(*args, **kwargs)

        return build(tl), build(me)

    out = {
        "Param": both("Param", "lr", "0.1"),
        "RunTag": both("RunTag", "team", "vision"),
        "ExperimentTag": both("ExperimentTag", "k", "v"),
        "InputTag": both("InputTag", "mlflow.data.context", "train"),
        "Metric": both("Metric", "loss", 0.25, 1700000000000, 3),
        "Metric+dataset": both("Metric", "acc", 1.0, 5, 0, "model-1", "ds", "d1g", "run-9"),
        "FileInfo": both("FileInfo", "a/b.txt", False, 12),
        "FileInfo/dir": both("FileInfo", "a", True, None),
        "Dataset": both("Dataset", "iris", "abc123", "local", '{"uri": "x"}', '{"s": 1}', '{"rows": 3}'),
        "Dataset/bare": both("Dataset", "iris", "abc123", "local", "{}"),
        "RunInfo": both("RunInfo", "r1", "7", "ann", "FINISHED", 10, 20, "active", "file:///a", "swift-owl"),
        "RunInfo/running": both("RunInfo", "r1", "7", "ann", "RUNNING", 10, None, "deleted"),
    }
    modules = (tl, me)
    built = [
        [
            m.RunData([m.Metric("loss", 0.5, 123, 4)], [m.Param("lr", "0.1")], [m.RunTag("team", "ml")])
            for m in modules
        ],
        [
            m.DatasetInput(m.Dataset("d", "123", "local", "{}"), [m.InputTag("a", "1"), m.InputTag("b", "2")])
            for m in modules
        ],
    ]
    out["RunData"] = (built[0][0], built[0][1])
    out["DatasetInput"] = (built[1][0], built[1][1])
    out["RunInputs"] = (tl.RunInputs([built[1][0]]), me.RunInputs([built[1][1]]))
    out["Experiment"] = (
        tl.Experiment("3", "exp", "file:///x", "active", [tl.ExperimentTag("k", "v")], 5, 6),
        me.Experiment("3", "exp", "file:///x", "active", [me.ExperimentTag("k", "v")], 5, 6),
    )
    out["Run"] = (
        tl.Run(out["RunInfo"][0], out["RunData"][0], out["RunInputs"][0]),
        me.Run(out["RunInfo"][1], out["RunData"][1], out["RunInputs"][1]),
    )
    return out


PAIR_NAMES = [
    "Param",
    "RunTag",
    "ExperimentTag",
    "InputTag",
    "Metric",
    "Metric+dataset",
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
    "Run",
]


@pytest.mark.parametrize("name", PAIR_NAMES)
def test_repr_and_iteration_match_mlflow(me: ModuleType, name: str) -> None:
    ours, theirs = _pairs(me)[name]
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    assert [repr(v) for _, v in ours] == [repr(v) for _, v in theirs]
    assert repr(ours) == repr(theirs)


# The entities MLflow 3 gives a to_dictionary; tracklet's others return dict(entity).
WITH_MLFLOW_DICT = [
    "Dataset",
    "Dataset/bare",
    "DatasetInput",
    "Metric",
    "Metric+dataset",
    "Run",
    "RunData",
    "RunInputs",
]


@pytest.mark.parametrize("name", WITH_MLFLOW_DICT)
def test_to_dictionary_matches_mlflow(me: ModuleType, name: str) -> None:
    ours, theirs = _pairs(me)[name]
    assert repr(ours.to_dictionary()) == repr(theirs.to_dictionary())


def test_the_other_entities_dictionary_is_their_iteration(me: ModuleType) -> None:
    for name, (ours, theirs) in _pairs(me).items():
        if name not in WITH_MLFLOW_DICT:
            assert not hasattr(theirs, "to_dictionary"), (
                f"MLflow's {name} has a to_dictionary now: compare it"
            )
            assert ours.to_dictionary() == dict(ours), name


@pytest.mark.parametrize(
    ("name", "args", "other_args"),
    [
        ("Param", ("k", "1"), ("k", "2")),  # MLflow: params with one key are equal
        ("Param", ("k", "1"), ("j", "1")),
        ("RunTag", ("k", "1"), ("k", "2")),
        ("InputTag", ("k", "1"), ("k", "1")),
        ("ExperimentTag", ("k", "1"), ("k", "2")),
        ("Metric", ("m", 1.0, 1, 0), ("m", 1.0, 1, 0)),
        ("Metric", ("m", 1.0, 1, 0), ("m", 2.0, 1, 0)),
        ("FileInfo", ("a", False, 1), ("a", False, 1)),
        ("FileInfo", ("a", False, 1), ("a", False, 2)),
        ("Dataset", ("d", "1", "local", "{}"), ("d", "1", "local", "{}")),
        ("Dataset", ("d", "1", "local", "{}"), ("d", "2", "local", "{}")),
        (
            "RunInfo",
            ("r", "1", "u", "RUNNING", 1, None, "active"),
            ("r", "1", "u", "RUNNING", 1, None, "active"),
        ),
        (
            "RunInfo",
            ("r", "1", "u", "RUNNING", 1, None, "active"),
            ("r", "1", "u", "FAILED", 1, None, "active"),
        ),
    ],
)
def test_equality_matches_mlflow(
    me: ModuleType, name: str, args: tuple[Any, ...], other_args: tuple[Any, ...]
) -> None:
    ours = getattr(tl, name)(*args) == getattr(tl, name)(*other_args)
    theirs = getattr(me, name)(*args) == getattr(me, name)(*other_args)
    assert ours == theirs
    if ours and name in ("Param", "Metric", "RunInfo"):
        assert hash(getattr(tl, name)(*args)) == hash(getattr(tl, name)(*other_args))


def test_mlflow_objects_from_dictionary_rebuild_ours(me: ModuleType) -> None:
    pairs = _pairs(me)
    for name in ("RunInfo", "Dataset", "FileInfo", "Param", "Metric+dataset"):
        ours, theirs = pairs[name]
        as_dict = theirs.to_dictionary() if hasattr(theirs, "to_dictionary") else dict(theirs)
        assert repr(type(ours).from_dictionary(as_dict)) == repr(ours), name


# -- seed 004's surface ----------------------------------------------------------------

# Every class, constant, attribute and method seed 004 lists for mlflow.entities.
SEED_004 = {
    "Experiment": "ACTIVE_LIFECYCLE DEFAULT_EXPERIMENT_ID DELETED_LIFECYCLE artifact_location experiment_id "
    "from_proto lifecycle_stage name to_proto",
    "FileInfo": "file_size from_proto is_dir path to_proto",
    "Metric": "from_proto key timestamp to_proto value",
    "Param": "from_proto key to_proto value",
    "Run": "data from_dictionary from_proto info to_dictionary to_proto",
    "RunData": "from_dictionary from_proto metrics params tags to_proto",
    "RunInfo": "ACTIVE_LIFECYCLE DELETED_LIFECYCLE artifact_uri end_time entry_point_name experiment_id "
    "from_proto lifecycle_stage name run_uuid source_name source_type source_version start_time status "
    "to_proto user_id",
    "RunStatus": "FAILED FINISHED RUNNING SCHEDULED from_string is_terminated to_string",
    "RunTag": "from_proto key to_proto value",
    "SourceType": "JOB LOCAL NOTEBOOK PROJECT UNKNOWN",
    "ViewType": "ACTIVE_ONLY ALL DELETED_ONLY from_proto from_string to_proto to_string",
}


@pytest.mark.parametrize("name", sorted(SEED_004))
def test_seed_004_surface_is_there(name: str) -> None:
    cls = getattr(tl, name)
    missing = [attr for attr in SEED_004[name].split() if not hasattr(cls, attr)]
    assert not missing, f"tracklet.entities.{name} lacks {missing}"


def test_seed_004_constructor_calls() -> None:
    """The constructors as seed 004 writes them (positional, with its defaults)."""
    assert Experiment("1", "e", "file:///x", "active").lifecycle_stage == "active"
    assert FileInfo("p", False, 1).file_size == 1
    assert Metric("m", 1.0, 5).step == 0
    assert Run(RunInfo("r", "1", "u", "RUNNING", 1, None, "active"), RunData()).data.metrics == {}
    assert RunData().params == {} and RunData(None, None, None).tags == {}


def test_run_data_from_points_equals_the_constructor():
    points = [("loss", 0.5, 10, 3), ("acc", math.nan, 11, 0), ("loss2", -math.inf, 12, 1)]
    params, tags = {"lr": "0.1"}, {"t": "v"}
    built = RunData.from_points(points, params, tags)
    expected = RunData([Metric(*point) for point in points], [Param("lr", "0.1")], [RunTag("t", "v")])
    assert built == expected
    assert built.metric_objs == expected.metric_objs and repr(built) == repr(expected)
    assert [m.to_dictionary() for m in built.metric_objs] == [m.to_dictionary() for m in expected.metric_objs]
    assert built.params is params and built.tags is tags  # handed over, not copied
