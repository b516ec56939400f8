"""TraceStoreSuite: the conformance tests of a store that keeps traces.

Inherit :class:`TraceStoreSuite` and define a ``store`` fixture returning a new, empty
tracking store that also subclasses :class:`~tracklet.stores.TraceStore`, holding only
the Default experiment ``"0"``::

    class TestMyTraces(TraceStoreSuite):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(store_uri=str(tmp_path), artifact_uri=str(tmp_path / "artifacts"))

Covered: ``start_trace`` (every field kept, an upsert merging a second call, the
``mlflow.artifactLocation`` tag chosen by the store and never the caller's, the caller's
object left alone, four threads upserting one trace at once), ``get_trace_info`` and
``batch_get_trace_infos``, trace tags (set, overwrite, delete, MLflow's key and value
rules), ``delete_traces`` by ids and by
timestamp with ``max_traces`` (oldest first) and MLflow's four argument refusals,
``search_traces`` (every field of MLflow's ``SearchTraceUtils`` and its comparators,
tracklet's ``OR`` and parentheses, the default order and order-by keys, paging through
every page, ``max_results`` bounds, bad filters and tokens), traces across experiments
(deleted ones included). Every refusal is checked for its error code, for the shared
wording of :mod:`tracklet.stores.traces` where it depends on stored state, and for having
changed nothing.

With the trace capability ``span_storage`` (:data:`tracklet.stores.TRACE_CAPABILITIES`,
declared in ``trace_capabilities``) also: ``log_spans`` creating the trace info from the
spans, the root span arriving last and finishing the trace, spans sent again replacing
the stored ones, ``log_spans`` and ``start_trace`` in either order and racing from
several threads, ``get_trace_spans``, and ``delete_traces`` removing spans. A store without it must refuse ``log_spans`` with
``NOT_IMPLEMENTED``.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pytest

from tracklet.entities import LiveSpan, Span, SpanStatusCode, TraceInfo, TraceLocation, TraceState
from tracklet.exceptions import TrackletException
from tracklet.stores import TRACE_CAPABILITIES, TraceStore, TrackingStore
from tracklet.stores.refusals import experiment_not_active, no_such_experiment
from tracklet.stores.traces import (
    ARTIFACT_LOCATION_TAG,
    artifact_location_for,
    no_such_trace,
    no_trace_tag,
)
from tracklet.testing._support import UNKNOWN_EXPERIMENT_ID, raises_code, says

_F = TypeVar("_F", bound=Callable[..., Any])

#: A request time far from "now" (ms), so nothing depends on the clock.
T0 = 1_700_000_000_000
_NAME = "mlflow.traceName"
_SOURCE_RUN = "mlflow.sourceRun"
_RUN_A = "a" * 32
_RUN_B = "b" * 32


def requires_traces(*capabilities: str) -> Callable[[_F], _F]:
    """Mark a trace suite test as needing capabilities of
    :data:`tracklet.stores.TRACE_CAPABILITIES` (skipped, with the reason, otherwise)."""
    unknown = set(capabilities) - TRACE_CAPABILITIES
    if unknown:
        raise ValueError(f"Unknown trace capabilities {sorted(unknown)}; known: {sorted(TRACE_CAPABILITIES)}")

    def mark(test: _F) -> _F:
        test._tracklet_trace_requires = capabilities  # type: ignore[attr-defined]
        return test

    return mark


def new_trace_id() -> str:
    """A fresh MLflow trace id (``tr-`` and 32 hex characters)."""
    return "tr-" + uuid.uuid4().hex


def make_trace_info(
    trace_id: str | None = None,
    experiment_id: str = "0",
    request_time: int = T0,
    state: TraceState = TraceState.OK,
    execution_duration: int | None = 10,
    tags: dict[str, str] | None = None,
    metadata: dict[str, str] | None = None,
    client_request_id: str | None = None,
    request_preview: str | None = None,
    response_preview: str | None = None,
) -> TraceInfo:
    """A trace info as a client sends it to ``start_trace``."""
    return TraceInfo(
        trace_id=trace_id or new_trace_id(),
        trace_location=TraceLocation.from_experiment_id(experiment_id),
        request_time=request_time,
        state=state,
        request_preview=request_preview,
        response_preview=response_preview,
        client_request_id=client_request_id,
        execution_duration=execution_duration,
        trace_metadata=dict(metadata or {}),
        tags=dict(tags or {}),
    )


def info_fields(info: TraceInfo) -> dict[str, Any]:
    """What a trace info holds, comparable across stores."""
    return {
        "trace_id": info.trace_id,
        "experiment_id": str(info.experiment_id),
        "request_time": info.request_time,
        "state": TraceState(info.state).value,
        "execution_duration": info.execution_duration,
        "client_request_id": info.client_request_id,
        "request_preview": info.request_preview,
        "response_preview": info.response_preview,
        "trace_metadata": dict(info.trace_metadata),
        "tags": dict(info.tags),
    }


def _all(store: Any, experiment_ids: Sequence[str]) -> list[TraceInfo]:
    infos: list[TraceInfo] = []
    token: str | None = None
    for _ in range(1000):
        page, token = store.search_traces(list(experiment_ids), max_results=1000, page_token=token)
        infos.extend(page)
        if not token:
            return infos
    raise AssertionError("still a page token after 1000 pages")


def trace_store_state(store: Any, experiment_ids: Sequence[str] = ("0",)) -> dict[str, Any]:
    """Every trace of ``experiment_ids`` (info, and spans with ``span_storage``)."""
    infos = sorted((info_fields(i) for i in _all(store, experiment_ids)), key=lambda f: f["trace_id"])
    state: dict[str, Any] = {"infos": infos}
    if "span_storage" in store.trace_capabilities:
        state["spans"] = {f["trace_id"]: _span_dicts(store.get_trace_spans(f["trace_id"])) for f in infos}
    return state


def _span_dicts(spans: Sequence[Span]) -> list[dict[str, Any]]:
    return sorted((s.to_dict() for s in spans), key=lambda d: (d["start_time_unix_nano"], d["span_id"]))


def make_span(
    trace_id: str,
    otel_trace_id: int,
    span_id: int,
    parent_id: int | None,
    name: str,
    start_ms: int,
    end_ms: int | None,
    inputs: Any = None,
    outputs: Any = None,
    error: bool = False,
    attributes: dict[str, Any] | None = None,
) -> Span:
    """A finished (or, with ``end_ms`` None, still open) span, as an exporter sends it."""
    live = LiveSpan(
        name=name,
        trace_id=trace_id,
        otel_trace_id=otel_trace_id,
        span_id=span_id,
        parent_id=parent_id,
        start_time_ns=start_ms * 1_000_000,
        attributes=attributes,
    )
    if inputs is not None:
        live.set_inputs(inputs)
    if end_ms is not None:
        live.end(
            outputs=outputs,
            status=SpanStatusCode.ERROR if error else None,
            end_time_ns=end_ms * 1_000_000,
        )
    return live.to_immutable_span()


def _new_otel_trace() -> tuple[str, int]:
    number = uuid.uuid4().int
    return "tr-" + format(number, "032x"), number


class _Base:
    """Shared helpers."""

    def _experiment(self, store: Any, name: str = "traces-b") -> str:
        experiment_id: str = store.create_experiment(name)
        return experiment_id

    def _start(self, store: Any, **kwargs: Any) -> TraceInfo:
        info: TraceInfo = store.start_trace(make_trace_info(**kwargs))
        return info


class TraceInfoTests(_Base):
    """start_trace, get_trace_info, batch_get_trace_infos."""

    def test_start_trace_keeps_every_field(self, store: Any) -> None:
        sent = make_trace_info(
            request_time=T0 + 5,
            state=TraceState.ERROR,
            execution_duration=1234,
            tags={"team": "search", _NAME: "predict"},
            metadata={_SOURCE_RUN: _RUN_A, "mlflow.trace_schema.version": "3"},
            client_request_id="client-1",
            request_preview='{"q": "hi"}',
            response_preview='"hello"',
        )
        returned = store.start_trace(sent)
        assert isinstance(returned, TraceInfo)
        fields = info_fields(returned)
        expected = info_fields(sent)
        location = artifact_location_for(store.get_experiment("0").artifact_location, sent.trace_id)
        expected["tags"][ARTIFACT_LOCATION_TAG] = location
        for key in ("tags", "trace_metadata"):  # a store may add its own keys
            assert fields[key].items() >= expected[key].items(), key
            assert info_fields(store.get_trace_info(sent.trace_id))[key].items() >= expected[key].items()
            fields.pop(key)
            expected.pop(key)
        assert fields == expected
        stored = info_fields(store.get_trace_info(sent.trace_id))
        stored.pop("tags")
        stored.pop("trace_metadata")
        assert stored == expected

    def test_start_trace_sets_the_artifact_location_never_the_callers(self, store: Any) -> None:
        experiment_id = self._experiment(store)
        sent = make_trace_info(experiment_id=experiment_id, tags={ARTIFACT_LOCATION_TAG: "s3://elsewhere/x"})
        returned = store.start_trace(sent)
        location = artifact_location_for(store.get_experiment(experiment_id).artifact_location, sent.trace_id)
        assert location.endswith(f"/traces/{sent.trace_id}/artifacts")
        assert returned.tags[ARTIFACT_LOCATION_TAG] == location
        assert store.get_trace_info(sent.trace_id).tags[ARTIFACT_LOCATION_TAG] == location
        assert sent.tags == {ARTIFACT_LOCATION_TAG: "s3://elsewhere/x"}, "the caller's object was changed"
        again = make_trace_info(trace_id=sent.trace_id, experiment_id=experiment_id)
        again.tags[ARTIFACT_LOCATION_TAG] = "file:///tmp/other"
        store.start_trace(again)
        assert store.get_trace_info(sent.trace_id).tags[ARTIFACT_LOCATION_TAG] == location

    def test_start_trace_twice_merges(self, store: Any) -> None:
        first = self._start(
            store,
            state=TraceState.IN_PROGRESS,
            execution_duration=None,
            tags={"a": "1", "b": "1"},
            metadata={"m": "1", "n": "1"},
            request_preview="req",
            client_request_id="c-1",
        )
        second = make_trace_info(
            trace_id=first.trace_id,
            request_time=T0 + 1,
            state=TraceState.OK,
            execution_duration=50,
            tags={"b": "2", "c": "2"},
            metadata={"n": "2"},
            response_preview="resp",
        )
        returned = store.start_trace(second)
        for info in (returned, store.get_trace_info(first.trace_id)):
            assert info.state == TraceState.OK
            assert info.request_time == T0 + 1
            assert info.execution_duration == 50
            assert info.request_preview == "req" and info.response_preview == "resp"
            assert info.client_request_id == "c-1"
            assert {k: info.tags.get(k) for k in "abc"} == {"a": "1", "b": "2", "c": "2"}
            assert {k: info.trace_metadata.get(k) for k in "mn"} == {"m": "1", "n": "2"}
            assert info.tags[ARTIFACT_LOCATION_TAG] == first.tags[ARTIFACT_LOCATION_TAG]
        assert len(_all(store, ["0"])) == 1

    def test_concurrent_upserts_of_one_trace_merge(self, store: Any) -> None:
        trace_id = new_trace_id()
        errors: list[BaseException] = []
        barrier = threading.Barrier(4)

        def upsert(n: int) -> None:
            try:
                barrier.wait(timeout=30)
                for round_ in range(3):
                    store.start_trace(
                        make_trace_info(
                            trace_id=trace_id, tags={f"w{n}": str(round_)}, metadata={f"m{n}": "x"}
                        )
                    )
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=upsert, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        info = store.get_trace_info(trace_id)
        assert {f"w{n}": "2" for n in range(4)}.items() <= info.tags.items()
        assert {f"m{n}": "x" for n in range(4)}.items() <= info.trace_metadata.items()
        assert _ids(_all(store, ["0"])) == [trace_id]

    def test_start_trace_refusals_change_nothing(self, store: Any) -> None:
        self._start(store, tags={"k": "v"})
        deleted = self._experiment(store, "to-delete")
        store.delete_experiment(deleted)
        before = trace_store_state(store, ["0", deleted])
        with raises_code("RESOURCE_DOES_NOT_EXIST") as excinfo:
            store.start_trace(make_trace_info(experiment_id=UNKNOWN_EXPERIMENT_ID))
        assert says(excinfo, no_such_experiment(UNKNOWN_EXPERIMENT_ID).message)
        with raises_code("INVALID_PARAMETER_VALUE") as excinfo:
            store.start_trace(make_trace_info(experiment_id=deleted))
        assert says(excinfo, experiment_not_active(deleted).message)
        bad_infos = [
            make_trace_info(trace_id="tr/../x"),
            dataclasses.replace(make_trace_info(), trace_id=""),
            make_trace_info(tags={"../escape": "v"}),
            make_trace_info(tags={"k" * 251: "v"}),
            make_trace_info(metadata={"a/../b": "v"}),
            make_trace_info(metadata={"m": "v" * 8001}),
            make_trace_info(tags={_NAME: "n" * 4097}),
            make_trace_info(request_time=-1),
            make_trace_info(execution_duration=-5),
        ]
        for bad in bad_infos:
            with raises_code("INVALID_PARAMETER_VALUE"):
                store.start_trace(bad)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.start_trace({"trace_id": new_trace_id()})
        assert trace_store_state(store, ["0", deleted]) == before

    def test_get_trace_info_of_an_unknown_trace(self, store: Any) -> None:
        trace_id = new_trace_id()
        with raises_code("RESOURCE_DOES_NOT_EXIST") as excinfo:
            store.get_trace_info(trace_id)
        assert _not_found(excinfo, trace_id)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.get_trace_info("../../etc")

    def test_batch_get_trace_infos(self, store: Any) -> None:
        experiment_id = self._experiment(store)
        a = self._start(store)
        b = self._start(store, experiment_id=experiment_id)
        c = self._start(store)
        unknown = new_trace_id()
        got = store.batch_get_trace_infos([c.trace_id, unknown, a.trace_id, b.trace_id, c.trace_id])
        assert [i.trace_id for i in got] == [c.trace_id, a.trace_id, b.trace_id]
        assert info_fields(got[2]) == info_fields(store.get_trace_info(b.trace_id))
        assert store.batch_get_trace_infos([]) == []
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.batch_get_trace_infos(a.trace_id)

    def test_traces_of_a_deleted_experiment_are_still_found(self, store: Any) -> None:
        experiment_id = self._experiment(store)
        info = self._start(store, experiment_id=experiment_id)
        store.delete_experiment(experiment_id)
        assert store.get_trace_info(info.trace_id).trace_id == info.trace_id
        assert [i.trace_id for i in _all(store, [experiment_id])] == [info.trace_id]


class TraceTagTests(_Base):
    """set_trace_tag, delete_trace_tag."""

    def test_set_overwrite_and_delete_tags(self, store: Any) -> None:
        info = self._start(store, tags={"keep": "1"})
        store.set_trace_tag(info.trace_id, "k", "v1")
        store.set_trace_tag(info.trace_id, "k", "v2")
        store.set_trace_tag(info.trace_id, "dotted.key/with space", "")
        store.set_trace_tag(info.trace_id, _NAME, "renamed")
        tags = store.get_trace_info(info.trace_id).tags
        assert tags["k"] == "v2" and tags["keep"] == "1" and tags["dotted.key/with space"] == ""
        assert tags[_NAME] == "renamed"
        store.delete_trace_tag(info.trace_id, "k")
        store.delete_trace_tag(info.trace_id, _NAME)
        tags = store.get_trace_info(info.trace_id).tags
        assert "k" not in tags and _NAME not in tags and tags["keep"] == "1"
        store.set_trace_tag(info.trace_id, "long", "x" * 9000)
        assert store.get_trace_info(info.trace_id).tags["long"] == "x" * 8000  # cut, as MLflow does

    def test_tag_refusals_change_nothing(self, store: Any) -> None:
        info = self._start(store, tags={"k": "v"})
        before = trace_store_state(store)
        unknown = new_trace_id()
        with raises_code("RESOURCE_DOES_NOT_EXIST") as excinfo:
            store.set_trace_tag(unknown, "k", "v")
        assert _not_found(excinfo, unknown)
        with raises_code("RESOURCE_DOES_NOT_EXIST") as excinfo:
            store.delete_trace_tag(unknown, "k")
        assert _not_found(excinfo, unknown)
        with raises_code("RESOURCE_DOES_NOT_EXIST") as excinfo:
            store.delete_trace_tag(info.trace_id, "missing")
        assert says(excinfo, no_trace_tag(info.trace_id, "missing").message)
        for key, value in [
            ("../k", "v"),
            ("", "v"),
            (None, "v"),
            ("k" * 251, "v"),
            ("k", None),
            ("a\x00", "v"),
        ]:
            with raises_code("INVALID_PARAMETER_VALUE"):
                store.set_trace_tag(info.trace_id, key, value)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.set_trace_tag(info.trace_id, ARTIFACT_LOCATION_TAG, "s3://elsewhere")
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.delete_trace_tag(info.trace_id, ARTIFACT_LOCATION_TAG)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.set_trace_tag(info.trace_id, _NAME, "n" * 4097)
        assert trace_store_state(store) == before


class DeleteTracesTests(_Base):
    """delete_traces by ids and by timestamp."""

    def test_delete_by_ids(self, store: Any) -> None:
        other = self._experiment(store)
        a, b = self._start(store, tags={"t": "1"}), self._start(store)
        c = self._start(store, experiment_id=other)
        count = store.delete_traces("0", trace_ids=[a.trace_id, new_trace_id(), c.trace_id, a.trace_id])
        assert count == 1
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.get_trace_info(a.trace_id)
        assert [i.trace_id for i in _all(store, ["0"])] == [b.trace_id]
        assert store.get_trace_info(c.trace_id).trace_id == c.trace_id
        assert store.delete_traces(other, trace_ids=[c.trace_id]) == 1
        assert _all(store, [other]) == []
        # a deleted trace's id may be used again, with nothing left of the old one
        again = self._start(store, trace_id=a.trace_id)
        assert "t" not in again.tags and "t" not in store.get_trace_info(a.trace_id).tags

    def test_delete_by_timestamp_oldest_first(self, store: Any) -> None:
        other = self._experiment(store)
        infos = [self._start(store, request_time=T0 + i * 10) for i in range(5)]
        elsewhere = self._start(store, experiment_id=other, request_time=T0)
        assert store.delete_traces("0", max_timestamp_millis=T0 - 1) == 0
        assert store.delete_traces("0", max_timestamp_millis=T0 + 30, max_traces=2) == 2
        left = {i.trace_id for i in _all(store, ["0"])}
        assert left == {i.trace_id for i in infos[2:]}
        assert store.delete_traces("0", max_timestamp_millis=T0 + 30) == 2  # inclusive
        assert {i.trace_id for i in _all(store, ["0"])} == {infos[4].trace_id}
        assert store.get_trace_info(elsewhere.trace_id).trace_id == elsewhere.trace_id
        assert store.delete_traces(UNKNOWN_EXPERIMENT_ID, max_timestamp_millis=T0 * 2) == 0

    def test_delete_traces_argument_refusals(self, store: Any) -> None:
        info = self._start(store)
        before = trace_store_state(store)
        cases: list[tuple[dict[str, Any], str]] = [
            ({}, "Either `max_timestamp_millis` or `trace_ids` must be specified."),
            ({"trace_ids": []}, "Either `max_timestamp_millis` or `trace_ids` must be specified."),
            ({"max_traces": 3}, "Either `max_timestamp_millis` or `trace_ids` must be specified."),
            (
                {"max_timestamp_millis": T0, "trace_ids": [info.trace_id]},
                "Only one of `max_timestamp_millis` and `trace_ids` can be specified.",
            ),
            (
                {"trace_ids": [info.trace_id], "max_traces": 1},
                "`max_traces` can't be specified if `trace_ids` is specified.",
            ),
            (
                {"max_timestamp_millis": T0, "max_traces": 0},
                "`max_traces` must be a positive integer, received 0.",
            ),
            (
                {"max_timestamp_millis": T0, "max_traces": -2},
                "`max_traces` must be a positive integer, received -2.",
            ),
        ]
        for kwargs, message in cases:
            with raises_code("INVALID_PARAMETER_VALUE") as excinfo:
                store.delete_traces("0", **kwargs)
            assert says(excinfo, message), (kwargs, excinfo.value.message)
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.delete_traces("0", trace_ids=["../x"])
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.delete_traces("0", max_timestamp_millis="yesterday")
        assert trace_store_state(store) == before


def _ids(infos: Sequence[TraceInfo]) -> list[str]:
    return [i.trace_id for i in infos]


class TraceSearchTests(_Base):
    """search_traces: fields, comparators, OR, order, paging, bad requests."""

    def _corpus(self, store: Any) -> tuple[str, dict[str, TraceInfo]]:
        other = self._experiment(store)
        spec: dict[str, dict[str, Any]] = {
            "t1": dict(
                request_time=T0 + 100,
                execution_duration=5,
                state=TraceState.OK,
                tags={_NAME: "predict", "env": "prod"},
                metadata={_SOURCE_RUN: _RUN_A, "user": "ann"},
                client_request_id="req-1",
            ),
            "t2": dict(
                request_time=T0 + 200,
                execution_duration=50,
                state=TraceState.ERROR,
                tags={_NAME: "Predict-batch", "env": "dev"},
                metadata={_SOURCE_RUN: _RUN_B},
            ),
            "t3": dict(
                request_time=T0 + 300,
                execution_duration=None,
                state=TraceState.IN_PROGRESS,
                tags={_NAME: "train"},
                metadata={"user": "bob"},
            ),
            "t4": dict(
                request_time=T0 + 300,
                execution_duration=500,
                state=TraceState.OK,
                tags={"env": "prod", "weird key": "x"},
                client_request_id="req-4",
            ),
            "t5": dict(
                experiment_id=other,
                request_time=T0 + 150,
                execution_duration=7,
                state=TraceState.OK,
                tags={_NAME: "predict", "env": "prod"},
                metadata={_SOURCE_RUN: _RUN_A},
            ),
        }
        infos = {label: self._start(store, **kwargs) for label, kwargs in spec.items()}
        return other, infos

    def test_search_filters(self, store: Any) -> None:
        other, t = self._corpus(store)
        both = ["0", other]
        cases: list[tuple[str, set[str]]] = [
            ("", {"t1", "t2", "t3", "t4", "t5"}),
            ("status = 'OK'", {"t1", "t4", "t5"}),
            ("attributes.status != 'OK'", {"t2", "t3"}),
            ("trace.status IN ('ERROR', 'IN_PROGRESS')", {"t2", "t3"}),
            ("status NOT IN ('OK')", {"t2", "t3"}),
            (f"timestamp_ms > {T0 + 150}", {"t2", "t3", "t4"}),
            (f"timestamp >= {T0 + 150}", {"t2", "t3", "t4", "t5"}),
            (f"timestamp_ms = {T0 + 300}", {"t3", "t4"}),
            (f"timestamp_ms != {T0 + 300}", {"t1", "t2", "t5"}),
            (f"attributes.timestamp_ms < {T0 + 150} ", {"t1"}),
            (f"timestamp_ms <= {T0 + 150}", {"t1", "t5"}),
            ("execution_time_ms > 10", {"t2", "t4"}),
            ("execution_time < 10", {"t1", "t5"}),
            (f"end_time_ms > {T0 + 250}", {"t4"}),
            (f"end_time <= {T0 + 157}", {"t1", "t5"}),
            ("name = 'predict'", {"t1", "t5"}),
            ("name LIKE 'predict%'", {"t1", "t5"}),
            ("name ILIKE 'predict%'", {"t1", "t2", "t5"}),
            ("name != 'predict'", {"t2", "t3"}),
            ("tags.name IN ('train', 'predict')", {"t1", "t3", "t5"}),
            ("tags.env = 'prod'", {"t1", "t4", "t5"}),
            ("tag.env != 'prod'", {"t2"}),
            ("tags.env LIKE '%e%'", {"t2"}),
            ("tags.env IS NULL", {"t3"}),
            ("tags.env IS NOT NULL", {"t1", "t2", "t4", "t5"}),
            ("tags.`weird key` = 'x'", {"t4"}),
            (f"tags.{_NAME} = 'train'", {"t3"}),
            (f"run_id = '{_RUN_A}'", {"t1", "t5"}),
            (f"run_id IN ('{_RUN_B}', 'nope')", {"t2"}),
            ("metadata.user = 'ann'", {"t1"}),
            ("request_metadata.user ILIKE 'B%'", {"t3"}),
            ("metadata.user IS NULL", {"t2", "t4", "t5"}),
            (f"metadata.{_SOURCE_RUN} IS NOT NULL", {"t1", "t2", "t5"}),
            ("client_request_id = 'req-4'", {"t4"}),
            ("client_request_id LIKE 'req-%'", {"t1", "t4"}),
            (f"request_id = '{t['t2'].trace_id}'", {"t2"}),
            (f"trace_id IN ('{t['t1'].trace_id}', '{t['t3'].trace_id}')", {"t1", "t3"}),
            ("status = 'OK' AND tags.env = 'prod' AND execution_time_ms < 100", {"t1", "t5"}),
            ("status = 'ERROR' OR name = 'train'", {"t2", "t3"}),
            ("(status = 'ERROR' OR name = 'train') AND metadata.user = 'bob'", {"t3"}),
            ("status = 'ERROR' OR (name = 'predict' AND tags.env = 'prod')", {"t1", "t2", "t5"}),
            ("name = 'nothing'", set()),
        ]
        label = {info.trace_id: name for name, info in t.items()}
        wrong = []
        for filter_string, expected in cases:
            found, _ = store.search_traces(both, filter_string=filter_string, max_results=100)
            got = {label[i.trace_id] for i in found}
            if got != expected:
                wrong.append(f"{filter_string!r}: got {sorted(got)}, expected {sorted(expected)}")
        assert not wrong, "\n".join(wrong)

    def test_search_scopes_experiments(self, store: Any) -> None:
        other, t = self._corpus(store)
        only_default, _ = store.search_traces(["0"])
        assert set(_ids(only_default)) == {t[k].trace_id for k in ("t1", "t2", "t3", "t4")}
        only_other, _ = store.search_traces([other], filter_string="name = 'predict'")
        assert _ids(only_other) == [t["t5"].trace_id]
        assert store.search_traces([UNKNOWN_EXPERIMENT_ID]) == ([], None)
        assert store.search_traces([]) == ([], None)
        found, _ = store.search_traces([UNKNOWN_EXPERIMENT_ID, other])
        assert _ids(found) == [t["t5"].trace_id]

    def test_search_order(self, store: Any) -> None:
        other, t = self._corpus(store)
        both = ["0", other]

        def order(order_by: list[str] | None) -> list[str]:
            found, _ = store.search_traces(both, order_by=order_by)
            label = {info.trace_id: name for name, info in t.items()}
            return [label[i.trace_id] for i in found]

        t3_t4 = sorted(["t3", "t4"], key=lambda k: t[k].trace_id)  # same timestamp: by trace id
        assert order(None) == [*t3_t4, "t2", "t5", "t1"]
        assert order(["timestamp_ms ASC"]) == ["t1", "t5", "t2", *t3_t4]
        assert order(["timestamp DESC"]) == [*t3_t4, "t2", "t5", "t1"]
        assert order(["execution_time_ms DESC"]) == ["t4", "t2", "t5", "t1", "t3"]  # missing last
        assert order(["execution_time_ms"]) == ["t1", "t5", "t2", "t4", "t3"]
        assert order(["status", "timestamp_ms"]) == ["t2", "t3", "t1", "t5", "t4"]
        # "Predict-batch" sorts before "predict" by code point, after it case-insensitively
        assert order(["name DESC"]) in (["t3", "t5", "t1", "t2", "t4"], ["t3", "t2", "t5", "t1", "t4"])
        assert order(["name ASC"])[-1] == "t4"  # no name: last
        assert order(["tags.env DESC"]) == ["t4", "t5", "t1", "t2", "t3"]
        assert order([f"metadata.{_SOURCE_RUN} ASC"]) == ["t5", "t1", "t2", *t3_t4]
        assert order(["experiment_id DESC", "timestamp_ms ASC"])[0] == "t5"
        assert order(["trace_id"]) == sorted(t, key=lambda k: t[k].trace_id)

    def test_search_pages_through_everything(self, store: Any) -> None:
        infos = [self._start(store, request_time=T0 + (i % 4)) for i in range(11)]
        expected, token = store.search_traces(["0"], max_results=50)
        assert token is None and len(expected) == 11
        for size in (1, 3, 11):
            seen: list[str] = []
            token = None
            for _ in range(20):
                page, token = store.search_traces(["0"], max_results=size, page_token=token)
                assert len(page) <= size
                seen.extend(_ids(page))
                if not token:
                    break
            assert seen == _ids(expected), f"pages of {size}"
        filtered: list[str] = []
        token = None
        for _ in range(20):
            page, token = store.search_traces(
                ["0"],
                filter_string=f"timestamp_ms >= {T0 + 2}",
                order_by=["timestamp_ms"],
                max_results=2,
                page_token=token,
            )
            filtered.extend(_ids(page))
            if not token:
                break
        assert set(filtered) == {i.trace_id for i in infos if i.request_time >= T0 + 2}
        assert len(filtered) == len(set(filtered))
        assert [store.get_trace_info(x).request_time for x in filtered] == sorted(
            store.get_trace_info(x).request_time for x in filtered
        )

    def test_search_refusals(self, store: Any) -> None:
        self._start(store)
        before = trace_store_state(store)
        bad_filters = [
            "status = OK",
            "status > 'OK'",
            "timestamp_ms = 'soon'",
            "timestamp_ms LIKE '1%'",
            "execution_time_ms IN (1, 2)",
            "unknown_attribute = 'x'",
            "metrics.loss > 1",
            "params.p = 'x'",
            "span.name = 'x'",
            "text LIKE '%x%'",
            "status IS NULL",
            "tags.env = 'a' AND",
            "(status = 'OK'",
            "status = 'OK' status = 'ERROR'",
            "tags.env RLIKE 'x'",
        ]
        for bad in bad_filters:
            with raises_code("INVALID_PARAMETER_VALUE"):
                store.search_traces(["0"], filter_string=bad)
        bad_orders: list[Any] = [
            ["nope"],
            ["timestamp_ms UP"],
            ["timestamp", "timestamp_ms DESC"],
            "timestamp_ms",
        ]
        for bad_order in bad_orders:
            with raises_code("INVALID_PARAMETER_VALUE"):
                store.search_traces(["0"], order_by=bad_order)
        for size in (0, -1, 50_001, "10", None):
            with raises_code("INVALID_PARAMETER_VALUE"):
                store.search_traces(["0"], max_results=size)
        assert len(store.search_traces(["0"], max_results=50_000)[0]) == 1
        for token in ("not a token", "bm90IGpzb24=", 5):
            with raises_code("INVALID_PARAMETER_VALUE"):
                store.search_traces(["0"], page_token=token)
        for ids in ("0", ["1.2"], ["../0"], None):
            with raises_code("INVALID_PARAMETER_VALUE"):
                store.search_traces(ids)
        assert trace_store_state(store) == before


def _not_found(excinfo: Any, trace_id: str) -> bool:
    """Whether the refusal is :func:`no_such_trace`'s, with or without its full stop (MLflow's
    file store leaves it out, and tracklet-file follows it)."""
    return says(excinfo, no_such_trace(trace_id).message) or says(
        excinfo, no_such_trace(trace_id, full_stop=False).message
    )


class SpanStorageTests(_Base):
    """log_spans and get_trace_spans (capability ``span_storage``)."""

    @requires_traces("span_storage")
    def test_log_spans_creates_the_trace_from_its_spans(self, store: Any) -> None:
        experiment_id = self._experiment(store)
        trace_id, otel = _new_otel_trace()
        root = make_span(
            trace_id,
            otel,
            1,
            None,
            "agent",
            T0,
            T0 + 90,
            inputs={"q": "hi"},
            outputs="hello",
            # how MLflow's OpenTelemetry processor carries a trace's tags over OTLP
            attributes={"mlflow.traceTag.team": "search", "mlflow.traceTag.../bad": "x"},
        )
        child = make_span(trace_id, otel, 2, 1, "llm", T0 + 10, T0 + 50)
        returned = store.log_spans(experiment_id, [child, root])
        assert {s.span_id for s in returned} == {root.span_id, child.span_id}
        info = store.get_trace_info(trace_id)
        assert str(info.experiment_id) == experiment_id
        assert info.request_time == T0 and info.execution_duration == 90
        assert info.state == TraceState.OK
        assert info.tags[_NAME] == "agent"
        assert info.tags["team"] == "search" and "../bad" not in info.tags
        assert info.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"
        assert info.request_preview == '{"q": "hi"}' and info.response_preview == '"hello"'
        location = artifact_location_for(store.get_experiment(experiment_id).artifact_location, trace_id)
        assert info.tags[ARTIFACT_LOCATION_TAG] == location
        assert _span_dicts(store.get_trace_spans(trace_id)) == _span_dicts([root, child])
        found, _ = store.search_traces([experiment_id], filter_string="name = 'agent'")
        assert _ids(found) == [trace_id]

    @requires_traces("span_storage")
    def test_the_root_span_arriving_last_finishes_the_trace(self, store: Any) -> None:
        trace_id, otel = _new_otel_trace()
        store.log_spans("0", [make_span(trace_id, otel, 2, 1, "child", T0 + 10, T0 + 20)])
        info = store.get_trace_info(trace_id)
        assert info.state == TraceState.IN_PROGRESS
        assert info.request_time == T0 + 10
        store.log_spans("0", [make_span(trace_id, otel, 1, None, "root", T0, T0 + 100, error=True)])
        info = store.get_trace_info(trace_id)
        assert info.state == TraceState.ERROR
        assert info.request_time == T0 and info.execution_duration == 100
        assert info.tags[_NAME] == "root"
        assert len(store.get_trace_spans(trace_id)) == 2
        # a span sent again replaces the stored one
        store.log_spans("0", [make_span(trace_id, otel, 2, 1, "child-renamed", T0 + 10, T0 + 20)])
        names = sorted(s.name for s in store.get_trace_spans(trace_id))
        assert names == ["child-renamed", "root"]

    @requires_traces("span_storage")
    def test_batch_get_trace_spans_answers_a_page(self, store: Any) -> None:
        first, otel_first = _new_otel_trace()
        second, otel_second = _new_otel_trace()
        one = [make_span(first, otel_first, 1, None, "a", T0, T0 + 5)]
        two = [
            make_span(second, otel_second, 1, None, "b", T0, T0 + 9),
            make_span(second, otel_second, 2, 1, "c", T0 + 1, T0 + 2),
        ]
        store.log_spans("0", one + two)
        unknown = "tr-" + "0" * 31 + "1"
        found = store.batch_get_trace_spans([second, unknown, first, second])
        assert set(found) == {first, second, unknown}
        assert _span_dicts(found[first]) == _span_dicts(one)
        assert _span_dicts(found[second]) == _span_dicts(store.get_trace_spans(second))
        assert sorted(s.name for s in found[second]) == ["b", "c"] and found[unknown] == []

    @requires_traces("span_storage")
    def test_start_trace_and_log_spans_in_either_order(self, store: Any) -> None:
        # spans first, then the client's trace info: its values win, spans stay
        trace_id, otel = _new_otel_trace()
        store.log_spans("0", [make_span(trace_id, otel, 1, None, "root", T0, T0 + 40)])
        store.start_trace(
            make_trace_info(
                trace_id=trace_id,
                request_time=T0,
                execution_duration=41,
                tags={"mlflow.trace.spansLocation": "TRACKING_STORE", "k": "v"},
                metadata={_SOURCE_RUN: _RUN_A},
            )
        )
        info = store.get_trace_info(trace_id)
        assert info.execution_duration == 41 and info.tags["k"] == "v"
        assert info.trace_metadata[_SOURCE_RUN] == _RUN_A
        assert len(store.get_trace_spans(trace_id)) == 1
        assert len(_all(store, ["0"])) == 1
        # info first, then spans: the finished info keeps its times and state
        trace_id2, otel2 = _new_otel_trace()
        store.start_trace(make_trace_info(trace_id=trace_id2, request_time=T0 + 5, execution_duration=3))
        store.log_spans("0", [make_span(trace_id2, otel2, 1, None, "late", T0, T0 + 100, error=True)])
        info2 = store.get_trace_info(trace_id2)
        assert (info2.request_time, info2.execution_duration, info2.state) == (T0 + 5, 3, TraceState.OK)
        assert len(store.get_trace_spans(trace_id2)) == 1

    @requires_traces("span_storage")
    def test_concurrent_span_batches_and_trace_info(self, store: Any) -> None:
        trace_id, otel = _new_otel_trace()
        errors: list[BaseException] = []
        barrier = threading.Barrier(5)

        def spans(n: int) -> None:
            try:
                barrier.wait(timeout=30)
                for k in range(3):
                    span_id = 10 + n * 10 + k
                    store.log_spans(
                        "0", [make_span(trace_id, otel, span_id, 1, f"s{span_id}", T0 + k, T0 + 5)]
                    )
            except BaseException as exc:  # reported below
                errors.append(exc)

        def info() -> None:
            try:
                barrier.wait(timeout=30)
                store.start_trace(make_trace_info(trace_id=trace_id, request_time=T0, tags={"k": "v"}))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=spans, args=(n,)) for n in range(4)]
        threads.append(threading.Thread(target=info))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        assert len(store.get_trace_spans(trace_id)) == 12
        stored = store.get_trace_info(trace_id)
        assert stored.tags["k"] == "v" and _ids(_all(store, ["0"])) == [trace_id]

    @requires_traces("span_storage")
    def test_span_refusals_and_deletion(self, store: Any) -> None:
        trace_id, otel = _new_otel_trace()
        store.log_spans("0", [make_span(trace_id, otel, 1, None, "root", T0, T0 + 1)])
        before = trace_store_state(store)
        unknown = new_trace_id()
        with raises_code("RESOURCE_DOES_NOT_EXIST") as excinfo:
            store.get_trace_spans(unknown)
        assert _not_found(excinfo, unknown)
        other_id, other_otel = _new_otel_trace()
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.log_spans(
                UNKNOWN_EXPERIMENT_ID, [make_span(other_id, other_otel, 1, None, "r", T0, T0 + 1)]
            )
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.log_spans("0", ["not a span"])
        assert store.log_spans("0", []) == []
        assert trace_store_state(store) == before
        assert store.delete_traces("0", trace_ids=[trace_id]) == 1
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            store.get_trace_spans(trace_id)

    def test_a_store_without_span_storage_says_so(self, store: Any) -> None:
        if "span_storage" in store.trace_capabilities:
            pytest.skip(f"{type(store).__name__} declares span_storage")
        trace_id, otel = _new_otel_trace()
        with raises_code("NOT_IMPLEMENTED"):
            store.log_spans("0", [make_span(trace_id, otel, 1, None, "root", T0, T0 + 1)])
        with raises_code("NOT_IMPLEMENTED"):
            store.get_trace_spans(trace_id)


class TraceStoreSuite(TraceInfoTests, TraceTagTests, DeleteTracesTests, TraceSearchTests, SpanStorageTests):
    """Inherit this and define a ``store`` fixture returning a new, empty tracking store
    that is also a :class:`~tracklet.stores.TraceStore` (only experiment ``"0"``); every
    test above runs on it. Tests of a trace capability the store does not declare are
    skipped with the reason."""

    @pytest.fixture
    def store(self) -> Any:
        """Override: a fresh, empty store (a TrackingStore and a TraceStore) for each test."""
        pytest.fail(f"{type(self).__name__} must define a `store` fixture returning a new trace store")

    @pytest.fixture(autouse=True)
    def _tracklet_trace_capabilities(self, request: pytest.FixtureRequest) -> None:
        needed: tuple[str, ...] = getattr(request.function, "_tracklet_trace_requires", ())
        if not needed:
            return
        store = request.getfixturevalue("store")
        declared = frozenset(store.trace_capabilities)
        missing = [c for c in needed if c not in declared]
        if missing:
            pytest.skip(
                f"{type(store).__name__} does not declare trace capability "
                f"{', '.join(repr(c) for c in missing)} (its trace capabilities: {sorted(declared) or 'none'})"
            )

    def test_store_is_a_trace_store(self, store: Any) -> None:
        assert isinstance(store, TraceStore) and isinstance(store, TrackingStore)
        declared = frozenset(store.trace_capabilities)
        assert declared <= TRACE_CAPABILITIES, (
            f"unknown trace capabilities {sorted(declared - TRACE_CAPABILITIES)}"
        )

    def test_a_new_store_has_no_traces(self, store: Any) -> None:
        assert store.search_traces(["0"]) == ([], None)

    def test_errors_are_tracklet_exceptions(self, store: Any) -> None:
        with pytest.raises(TrackletException):
            store.get_trace_info(new_trace_id())
