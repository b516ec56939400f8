"""``tracklet.entities.wire`` reads the entities' slots: its dicts equal the ones their
public properties give, and it leaves any other class to the caller's general function.
A renamed slot fails here, in the package that owns the slots (tracklet-http's
``test_wire_fast.py`` checks the same functions against its protocol module)."""

from __future__ import annotations

import math
from typing import Any

from tracklet.entities import Metric, Param, Run, RunData, RunInfo, RunInputs, RunTag
from tracklet.entities.wire import (
    any_model_id,
    data_parts,
    metric_dicts,
    metrics_within,
    run_dicts,
    run_info_dict,
    run_parts,
)


def _double(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _metric(m: Metric) -> dict[str, Any]:
    value = m.value if math.isfinite(m.value) else _double(m.value)
    return {"key": m.key, "value": value, "timestamp": m.timestamp, "step": m.step}


def _info(i: RunInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run_id": i.run_id,
        "run_uuid": i.run_id,
        "run_name": i.run_name or "",
        "experiment_id": i.experiment_id,
        "user_id": i.user_id or "",
        "status": i.status,
    }
    if i.start_time is not None:
        out["start_time"] = i.start_time
    if i.end_time is not None:
        out["end_time"] = i.end_time
    out["artifact_uri"] = i.artifact_uri or ""
    out["lifecycle_stage"] = i.lifecycle_stage
    return out


def _run(r: Run) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if r.data.metric_objs:
        data["metrics"] = [_metric(m) for m in r.data.metric_objs]
    if r.data.params:
        data["params"] = [{"key": k, "value": v} for k, v in r.data.params.items()]
    if r.data.tags:
        data["tags"] = [{"key": k, "value": v} for k, v in r.data.tags.items()]
    return {"info": _info(r.info), "data": data, "inputs": {}}


class _Sub(Metric):
    @property
    def value(self) -> float:
        return 7.0


_INFO = RunInfo("a" * 32, "4", "me", "FINISHED", 10, 20, "active", "file:///x", "name")
_METRICS = [Metric("loss", 0.5, 3, 1), Metric("bad", -math.inf, 3, 1), Metric("nan", math.nan, 4, 2)]


def test_metric_dicts_equal_the_properties_and_leave_subclasses_to_the_caller() -> None:
    metrics = [*_METRICS, _Sub("sub", 1.0, 5, 6)]
    assert metric_dicts(metrics, _double, _metric) == [_metric(m) for m in metrics]
    assert metric_dicts(metrics, _double, _metric)[3]["value"] == 7.0


def test_run_info_dict_equals_the_properties() -> None:
    assert run_info_dict(_INFO) == _info(_INFO)
    bare = RunInfo("b" * 32, "0", None, "RUNNING", None, None)  # type: ignore[arg-type]
    assert run_info_dict(bare) == _info(bare)


def test_run_parts_and_run_dicts_read_what_the_properties_give() -> None:
    run = Run(_INFO, RunData(_METRICS, [Param("lr", "0.1")], [RunTag("t", "v")]), RunInputs([]))
    parts = run_parts(run)
    assert parts is not None
    info, data, _inputs, outputs = parts
    assert (info, outputs) == (run.info, run.outputs)
    assert data_parts(data) == (run.data.metric_objs, run.data.params, run.data.tags)
    assert run_dicts([run, Run(_INFO)], _double, _metric, _run) == [_run(run), _run(Run(_INFO))]


def test_a_run_subclass_goes_to_the_callers_function() -> None:
    class OtherRun(Run):
        pass

    run = OtherRun(_INFO)
    assert run_parts(run) is None
    assert run_dicts([run], _double, _metric, lambda r: {"general": r.info.run_id}) == [{"general": "a" * 32}]


def test_metrics_within_and_any_model_id() -> None:
    assert metrics_within(_METRICS, 0, 10) is True
    assert metrics_within(_METRICS, 0, 4) is True
    assert metrics_within(_METRICS, 0, 3) is False  # a timestamp of 4
    assert metrics_within([_Sub("s", 1.0, 1, 1)], 0, 10) is False  # unsure: the caller checks
    assert any_model_id(_METRICS) is False
    assert any_model_id([*_METRICS, Metric("m", 1.0, 1, 1, model_id="m-1")]) is True
