import math

import pytest

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
    assert run.info.run_name == "swift-owl"
    assert run.info.experiment_id == "7"
    assert run.data.metrics == {"loss": 0.5}
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags == {"team": "ml"}
    assert run.data.metric_objs[0].step == 4
    assert run.inputs.dataset_inputs[0].dataset.name == "d"


def test_run_dictionary_round_trip():
    run = make_run()
    d = run.to_dictionary()
    assert d["info"]["run_id"] == "abc123"
    assert d["data"] == {"metrics": {"loss": 0.5}, "params": {"lr": "0.1"}, "tags": {"team": "ml"}}
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


def test_metric_equality_treats_nan_as_equal():
    assert Metric("m", math.nan, 1, 0) == Metric("m", math.nan, 1, 0)
    assert Metric("m", 1.0, 1, 0) != Metric("m", 1.0, 1, 1)
    assert Metric("m", 1.0, 1, 2).to_dictionary() == {"key": "m", "value": 1.0, "timestamp": 1, "step": 2}


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
    assert ViewType.to_string(2) == "DELETED_ONLY"
    assert SourceType.from_string("LOCAL") == SourceType.LOCAL == 4
    assert LifecycleStage.view_type_to_stages(ViewType.ALL) == ["active", "deleted"]
    assert LifecycleStage.matches_view_type(ViewType.DELETED_ONLY, "deleted")
