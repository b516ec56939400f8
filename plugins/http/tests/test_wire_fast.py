"""The slot-reading wire conversions (``tracklet.entities.wire``) give exactly the dicts
the property-reading ones give, for every kind of value, and leave other classes to the
properties. If an entity's slots are renamed, these tests fail (AttributeError)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tracklet.entities import (
    Dataset,
    DatasetInput,
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
    RunTag,
)
from tracklet.entities.wire import any_model_id, metric_dicts, metrics_within, run_info_dict, run_parts
from tracklet_http import protocol as p


def _by_properties(m: Metric) -> dict[str, Any]:
    return {"key": m.key, "value": p.double_to_json(m.value), "timestamp": m.timestamp, "step": m.step}


_VALUES = [0.5, -3.0, 0.0, 1e308, math.nan, math.inf, -math.inf]


def _metrics() -> list[Metric]:
    built = [Metric(f"m{i}", v, 1_700_000_000_000 + i, i) for i, v in enumerate(_VALUES)]
    built += Metric.from_rows("hist", [(None, 5, 6), (2.5, 7, 8)], run_id="r" * 32)
    built.append(Metric("linked", 1.0, 1, 2, model_id="m-1", dataset_name="d", dataset_digest="x"))
    return built


class _MetricLike(Metric):
    """A subclass whose properties differ from its slots: must be read through them."""

    @property
    def value(self) -> float:
        return 42.0


def test_metric_dicts_equal_the_property_reading_ones() -> None:
    metrics = _metrics()
    assert metric_dicts(metrics, p.double_to_json, p.metric_to_json) == [_by_properties(m) for m in metrics]
    assert p.metrics_to_json(metrics) == [p.metric_to_json(m) for m in metrics]
    encoded = p.metrics_to_json([Metric("a", math.nan, 1, 0), Metric("b", -math.inf, 1, 0)])
    assert [d["value"] for d in encoded] == ["NaN", "-Infinity"]


def test_other_metric_classes_go_through_their_properties() -> None:
    odd = _MetricLike("k", 1.0, 2, 3)
    assert p.metrics_to_json([odd, Metric("k", 1.0, 2, 3)]) == [
        {"key": "k", "value": 42.0, "timestamp": 2, "step": 3},
        {"key": "k", "value": 1.0, "timestamp": 2, "step": 3},
    ]


def _general_run_info(info: RunInfo) -> dict[str, Any]:
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


@pytest.mark.parametrize(
    "info",
    [
        RunInfo("a" * 32, "1", "me", "FINISHED", 10, 20, "active", "s3://b/a", "name"),
        RunInfo("b" * 32, "0", "", "RUNNING", None, None, "deleted", None, None),
        RunInfo("c" * 32, "7", None, "FAILED", 0, 0, "active", "", ""),  # type: ignore[arg-type]
    ],
)
def test_run_info_dict_equals_the_property_reading_one(info: RunInfo) -> None:
    fast = run_info_dict(info)
    assert fast == _general_run_info(info)
    assert list(fast or {}) == list(_general_run_info(info))  # same key order on the wire
    assert p.run_info_to_json(info) == fast


def test_run_parts_reads_exact_runs_only() -> None:
    info = RunInfo("d" * 32, "1", "me", "RUNNING", 1, None)

    class OddRun(Run):
        pass

    assert run_parts(OddRun(info)) is None
    assert run_info_dict(type("OddInfo", (RunInfo,), {})("e" * 32)) is None
    run = Run(info, RunData([Metric("m", 1.0, 2, 3)], [Param("p", "v")], [RunTag("t", "u")]))
    parts = run_parts(run)
    assert parts is not None and parts[0] is info and parts[1] is run.data


def _full_run() -> Run:
    info = RunInfo("f" * 32, "3", "me", "FINISHED", 5, 9, "active", "file:///x", "full")
    data = RunData(
        [Metric("loss", 0.25, 7, 1), Metric("bad", math.nan, 7, 1)],
        [Param("lr", "0.1"), Param("bs", "32")],
        [RunTag("team", "a"), RunTag("mlflow.runName", "full")],
    )
    inputs = RunInputs(
        [
            DatasetInput(
                Dataset("ds", "abc", "local", "/data", None, None), [InputTag("mlflow.data.context", "train")]
            )
        ],
        [LoggedModelInput("model-1")],
    )
    return Run(info, data, inputs, RunOutputs([LoggedModelOutput("model-2", 4)]))


def _general_run(run: Run) -> dict[str, Any]:
    """run_to_json as it was before wire_fast: every field through the properties."""
    d = run.data
    data: dict[str, Any] = {}
    if d.metric_objs:
        data["metrics"] = [_by_properties(m) for m in d.metric_objs]
    if d.params:
        data["params"] = [{"key": k, "value": v} for k, v in d.params.items()]
    if d.tags:
        data["tags"] = [{"key": k, "value": v} for k, v in d.tags.items()]
    out: dict[str, Any] = {"info": _general_run_info(run.info), "data": data}
    inputs = run.inputs.dataset_inputs
    out["inputs"] = {"dataset_inputs": [p.dataset_input_to_json(x) for x in inputs]} if inputs else {}
    if run.inputs.model_inputs:
        out["inputs"]["model_inputs"] = [{"model_id": m.model_id} for m in run.inputs.model_inputs]
    if run.outputs is not None:
        models = run.outputs.model_outputs
        out["outputs"] = (
            {"model_outputs": [{"model_id": m.model_id, "step": m.step} for m in models]} if models else {}
        )
    return out


@pytest.mark.parametrize(
    "run", [_full_run(), Run(RunInfo("0" * 32, "0", "", "RUNNING", None, None))], ids=["full", "empty"]
)
def test_run_to_json_equals_the_property_reading_one(run: Run) -> None:
    assert p.run_to_json(run) == _general_run(run)


def test_run_to_json_of_a_run_subclass_reads_its_properties() -> None:
    class RenamedRun(Run):
        @property
        def info(self) -> RunInfo:
            return RunInfo("9" * 32, "5", "other", "KILLED", 1, 2)

    run = RenamedRun(RunInfo("1" * 32, "0", "", "RUNNING", None, None))
    assert p.run_to_json(run)["info"]["run_id"] == "9" * 32


_I64 = (-(2**63), 2**63 - 1)


@pytest.mark.parametrize(
    ("timestamp", "step", "within"),
    [(0, 0, True), (_I64[1], _I64[0], True), (_I64[1] + 1, 0, False), (0, _I64[0] - 1, False)],
)
def test_metrics_within_reads_both_columns(timestamp: int, step: int, within: bool) -> None:
    metrics = [Metric("a", 1.0, 5, 6), Metric("b", 1.0, timestamp, step)]
    assert metrics_within(metrics, *_I64) is within
    assert metrics_within([], *_I64) is True


def test_metrics_within_leaves_other_classes_to_the_caller() -> None:
    assert metrics_within([Metric("a", 1.0, 5, 6), _MetricLike("b", 1.0, 5, 6)], *_I64) is False


def test_any_model_id_equals_the_property_reading_one() -> None:
    plain = [Metric("a", 1.0, 5, 6), *Metric.from_rows("h", [(1.0, 1, 1)])]
    linked = [*plain, Metric("b", 2.0, 5, 6, model_id="m-1")]
    assert any_model_id(plain) is False
    assert any_model_id(linked) is True
    assert any_model_id([]) is False
    assert any_model_id([_MetricLike("c", 1.0, 1, 1, model_id="m-2")]) is True


def test_log_batch_range_errors_are_unchanged() -> None:
    from tracklet.exceptions import TrackletException
    from tracklet_http.server.handlers import check_ranges

    endpoint = p.ENDPOINTS_BY_NAME["log_batch"]
    ok = [Metric("a", 1.0, 5, 6)] * 3
    check_ranges(endpoint, {"run_id": "a" * 32, "metrics": ok})
    bad = [*ok, Metric("a", 1.0, 5, 2**63)]
    with pytest.raises(TrackletException, match=r"parameter 'metrics.step'.*int64"):
        check_ranges(endpoint, {"run_id": "a" * 32, "metrics": bad})


def _page_of_runs() -> list[Run]:
    plain = RunInfo("1" * 32, "3", "me", "FINISHED", 5, 9, "active", "file:///x", "plain")
    bare = RunInfo("2" * 32, "0", None, "RUNNING", None, None, "deleted", None, None)  # type: ignore[arg-type]
    data = RunData(
        [Metric("loss", 0.25, 7, 1), Metric("bad", math.inf, 7, 1), _MetricLike("odd", 1.0, 2, 3)],
        [Param("lr", "0.1")],
        [RunTag("team", "a"), RunTag("mlflow.runName", "plain")],
    )

    class OddRun(Run):
        pass

    return [
        Run(plain, data),
        Run(bare),
        _full_run(),  # datasets, model inputs and outputs: the general path
        Run(plain, data, RunInputs([], [LoggedModelInput("model-1")])),
        Run(plain, RunData(), None, RunOutputs([])),
        OddRun(bare, data),
    ]


def test_runs_to_json_equals_run_to_json_of_each_run() -> None:
    page = _page_of_runs()
    fast = p.runs_to_json(page)
    assert fast == [p.run_to_json(r) for r in page] == [_general_run(r) for r in page]
    assert [list(d) for d in fast] == [list(p.run_to_json(r)) for r in page]  # key order
    assert [list(d["info"]) for d in fast] == [list(p.run_to_json(r)["info"]) for r in page]
    assert fast[0]["data"]["metrics"][1]["value"] == "Infinity"
    assert fast[0]["data"]["metrics"][2]["value"] == 42.0  # the subclass's own property
    assert p.runs_to_json([]) == []
