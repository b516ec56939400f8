"""The trace contract's checks, word for word against MLflow 3.17.2 where MLflow has words.

A store whose primitives fail the test if reached shows every refusal happens in
:class:`~tracklet.stores.TraceStore`'s public methods, before a store sees the call; MLflow's
own functions (called in-process) give the expected messages.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NoReturn

import pytest

from tracklet.entities import TraceInfo, TraceLocation, TraceState
from tracklet.exceptions import TrackletException
from tracklet.stores import TraceStore
from tracklet.stores.refusals import experiment_not_active
from tracklet.stores.traces import (
    artifact_location_for,
    check_trace_info,
    merge_trace_info,
    no_such_trace,
    no_trace_tag,
    trace_info_from_spans,
    truncated_preview,
    validate_trace_tag,
)
from tracklet.testing._traces import make_span, make_trace_info

mlflow = pytest.importorskip("mlflow")

TRACE_ID = "tr-" + "0" * 32


class Unreachable(TraceStore):
    """Every primitive fails the test: the public method should have refused first."""

    def _fail(self, *args: Any) -> NoReturn:
        raise AssertionError(f"a primitive was reached with {args!r}")

    _start_trace = _get_trace_info = _search_traces = _set_trace_tag = _fail
    _delete_trace_tag = _delete_traces = _log_spans = _get_trace_spans = _fail


def _message(call: Any) -> str:
    with pytest.raises(Exception) as excinfo:
        call()
    error = excinfo.value
    code = getattr(error, "error_code", None)
    assert code == "INVALID_PARAMETER_VALUE", (code, error)
    return str(getattr(error, "message", error))


class _MlflowStore(mlflow.store.tracking.abstract_store.AbstractStore):  # type: ignore[misc, name-defined]
    """MLflow's abstract store, for its delete_traces checks only."""

    def __init__(self) -> None:
        pass

    def _delete_traces(self, *args: Any, **kwargs: Any) -> int:
        return 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"trace_ids": []},
        {"max_traces": 2},
        {"max_timestamp_millis": 5, "trace_ids": [TRACE_ID]},
        {"trace_ids": [TRACE_ID], "max_traces": 1},
        {"max_timestamp_millis": 5, "max_traces": 0},
        {"max_timestamp_millis": 5, "max_traces": -3},
    ],
)
def test_delete_traces_rules_in_mlflows_words(kwargs: dict[str, Any]) -> None:
    theirs = _message(lambda: _MlflowStore().delete_traces("0", **kwargs))
    ours = _message(lambda: Unreachable().delete_traces("0", **kwargs))
    assert ours == theirs


@pytest.mark.parametrize("max_results", [0, -1, 50_001, 10**9])
def test_max_results_in_mlflows_words(max_results: int) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    theirs = _message(lambda: SqlAlchemyStore._validate_max_results_param(None, max_results))
    ours = _message(lambda: Unreachable().search_traces(["0"], max_results=max_results))
    assert ours == theirs


@pytest.mark.parametrize(
    ("key", "value"),
    [("../x", "v"), ("a\\b", "v"), ("/abs", "v"), ("k" * 251, "v"), (None, "v"), ("a//b", "v"), ("ok?", "v")],
)
def test_trace_tag_rules_in_mlflows_words(key: Any, value: str) -> None:
    from mlflow.utils.validation import _validate_trace_tag

    theirs = _message(lambda: _validate_trace_tag(key, value))
    ours = _message(lambda: Unreachable().set_trace_tag(TRACE_ID, key, value))
    assert ours == theirs
    assert _message(lambda: validate_trace_tag(key, value)) == theirs


def test_tag_values_are_cut_as_mlflow_cuts_them() -> None:
    from mlflow.utils.validation import _validate_trace_tag

    long = "v" * 9000
    assert validate_trace_tag("k", long) == _validate_trace_tag("k", long)
    assert validate_trace_tag("k", "") == ("k", "")


def test_trace_name_limit_in_mlflows_words() -> None:
    from mlflow.store.tracking.utils.trace_analytics import validate_trace_name

    name = "n" * 4097
    theirs = _message(lambda: validate_trace_name(name))
    assert _message(lambda: Unreachable().set_trace_tag(TRACE_ID, "mlflow.traceName", name)) == theirs
    info = make_trace_info(tags={"mlflow.traceName": name})
    assert _message(lambda: Unreachable().start_trace(info)) == theirs


def test_locations_must_be_experiment_ids_in_mlflows_words() -> None:
    from mlflow.utils.validation import _resolve_experiment_ids_and_locations

    for ids in (["cat.schema"], ["0", "a.b", "catalog.schema.table_prefix"]):
        theirs = _message(lambda ids=ids: _resolve_experiment_ids_and_locations(ids, None))
        assert _message(lambda ids=ids: Unreachable().search_traces(ids)) == theirs


def test_refusals_of_stored_state_in_mlflows_words() -> None:
    import inspect

    from mlflow.store.tracking import sqlalchemy_store

    source = inspect.getsource(sqlalchemy_store)
    # The words are MLflow's SQL store's get_trace_info (its file store drops the full stop).
    assert "f\"Trace with ID '{trace_id}' not found.\"" in source
    assert no_such_trace("tr-1").message == "Trace with ID 'tr-1' not found."
    assert no_such_trace("tr-1", full_stop=False).message == "Trace with ID 'tr-1' not found"
    assert no_such_trace("tr-1").error_code == "RESOURCE_DOES_NOT_EXIST"
    assert "f\"No trace tag with key '{key}' for trace with ID '{trace_id}'\"" in source
    assert no_trace_tag("tr-1", "k").message == "No trace tag with key 'k' for trace with ID 'tr-1'"
    assert (
        "f\"The experiment {experiment.experiment_id} must be in the 'active' state. \"" in source
        and experiment_not_active("3").message
        == "The experiment 3 must be in the 'active' state. Current state is deleted."
    )


@pytest.mark.parametrize("root", ["file:///tmp/mlruns/1", "s3://bucket/path/1", "/local/path/2", "gs://b/x/"])
def test_artifact_location_is_mlflows_layout(root: str) -> None:
    from mlflow.utils.uri import append_to_uri_path

    trace_id = "tr-" + "ab" * 16
    assert artifact_location_for(root, trace_id) == append_to_uri_path(root, "traces", trace_id, "artifacts")


def test_previews_are_cut_as_mlflow_cuts_them() -> None:
    from mlflow.tracing.utils.truncation import _get_truncated_preview

    for text in ("short", "x" * 1000, "y" * 1001, "z" * 5000):
        assert truncated_preview(text) == _get_truncated_preview(text, role="user")
    assert truncated_preview(None) is None


def test_check_trace_info_normalises_a_copy() -> None:
    sent = make_trace_info(
        tags={"mlflow.artifactLocation": "s3://elsewhere", "k": "v" * 9000},
        request_preview="p" * 2000,
    )
    sent = dataclasses.replace(sent, trace_location=TraceLocation.from_experiment_id(7), state="ERROR")  # type: ignore[arg-type]
    checked = check_trace_info(sent)
    assert checked.experiment_id == "7" and checked.state == TraceState.ERROR
    assert checked.tags == {"k": "v" * 8000}
    assert checked.request_preview == "p" * 997 + "..."
    assert sent.tags["mlflow.artifactLocation"] == "s3://elsewhere" and len(sent.tags["k"]) == 9000
    for bad in (
        dataclasses.replace(sent, state="DONE"),
        dataclasses.replace(sent, request_time="now"),
        dataclasses.replace(sent, execution_duration=1.5),
        dataclasses.replace(sent, client_request_id="c" * 251),
        dataclasses.replace(sent, trace_metadata={"k": 1}),
        dataclasses.replace(sent, tags={"k": None}),
        dataclasses.replace(sent, trace_location=TraceLocation.from_experiment_id("01")),
        "not an info",
    ):
        with pytest.raises(TrackletException) as excinfo:
            check_trace_info(bad)
        assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"


def test_public_methods_refuse_before_the_store() -> None:
    store = Unreachable()
    calls = [
        lambda: store.get_trace_info("bad id"),
        lambda: store.get_trace_info(None),  # type: ignore[arg-type]
        lambda: store.batch_get_trace_infos("tr-1"),
        lambda: store.batch_get_trace_infos(["ok", "../no"]),
        lambda: store.search_traces("0"),
        lambda: store.search_traces(None),  # type: ignore[arg-type]
        lambda: store.search_traces(["0"], filter_string="nope = 1"),
        lambda: store.search_traces(["0"], order_by=["nope"]),
        lambda: store.search_traces(["0"], page_token="%%%"),
        lambda: store.search_traces(["0"], max_results=True),  # type: ignore[arg-type]
        lambda: store.set_trace_tag(TRACE_ID, "k", None),  # type: ignore[arg-type]
        lambda: store.set_trace_tag(TRACE_ID, "mlflow.artifactLocation", "x"),
        lambda: store.delete_trace_tag(TRACE_ID, "mlflow.artifactLocation"),
        lambda: store.delete_trace_tag(TRACE_ID, "../k"),
        lambda: store.delete_traces("0", max_timestamp_millis=-1),
        lambda: store.delete_traces("x y", max_timestamp_millis=1),
        lambda: store.delete_traces("0", max_timestamp_millis=1, max_traces=1.5),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(TrackletException) as excinfo:
            call()
        assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE", excinfo.value
    assert store.batch_get_trace_infos([]) == []
    assert store.search_traces([]) == ([], None)
    with pytest.raises(TrackletException) as excinfo:
        store.log_spans("0", [])
    assert excinfo.value.error_code == "NOT_IMPLEMENTED"


def test_merge_and_spans_to_info() -> None:
    trace_id = "tr-" + "1" * 32
    otel = int("1" * 32, 16)
    child = make_span(trace_id, otel, 2, 1, "child", 1000, 1500)
    info = trace_info_from_spans("0", [child], None)
    assert (info.state, info.request_time, info.execution_duration) == (TraceState.IN_PROGRESS, 1000, 500)
    assert "mlflow.traceName" not in info.tags
    root = make_span(trace_id, otel, 1, None, "root", 900, 2000, inputs=[1], outputs={"a": 1})
    info = trace_info_from_spans("0", [root], info)
    assert (info.state, info.request_time, info.execution_duration) == (TraceState.OK, 900, 1100)
    assert info.tags["mlflow.traceName"] == "root"
    assert (info.request_preview, info.response_preview) == ("[1]", '{"a": 1}')
    finished = dataclasses.replace(info, request_time=950, execution_duration=10)
    late = make_span(trace_id, otel, 3, 1, "late", 100, 9000)
    assert trace_info_from_spans("0", [late], finished) == finished
    stored = merge_trace_info(None, info, "mem://x")
    assert stored.tags["mlflow.artifactLocation"] == "mem://x"
    again = merge_trace_info(
        stored, dataclasses.replace(info, tags={"z": "1"}, request_preview=None), "mem://y"
    )
    assert again.tags["mlflow.artifactLocation"] == "mem://x" and again.tags["z"] == "1"
    assert again.request_preview == "[1]"
    assert isinstance(again, TraceInfo)
