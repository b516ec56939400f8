"""LazySpan: the same span as ``Span.from_dict(json.loads(text))``, built only when read.

Every output is compared with the eager path for the same stored text: ``to_dict``,
``Trace.to_json`` (spliced text), properties, ``repr``, pickling, copies; before and after
materialisation, and for stored dicts that ``from_dict``/``to_dict`` do not give back as
they are (those must not be spliced or copied as stored).
"""

from __future__ import annotations

import copy
import json
import pickle
import threading
from typing import Any

import pytest

from tracklet.entities import (
    SpanEvent,
    SpanStatusCode,
    Trace,
    TraceData,
    TraceInfo,
    TraceLocation,
    TraceState,
)
from tracklet.entities.span import LazySpan, LiveSpan, Span
from tracklet.exceptions import TrackletException

TRACE = 0x1234567890ABCDEF1234567890ABCDEF


def _span_dicts() -> list[dict[str, Any]]:
    """A root (inputs, outputs, non-ASCII text) and a failed child with an event and a link."""
    root = LiveSpan("root", "tr-" + f"{TRACE:032x}", TRACE, 0x1111, start_time_ns=1_000)
    root.set_inputs({"q": "héllo", "n": [1, 2.5]})
    child = LiveSpan("child", "tr-" + f"{TRACE:032x}", TRACE, 0x2222, parent_id=0x1111, start_time_ns=2_000)
    child.add_event(SpanEvent("ping", timestamp=2_500, attributes={"k": "v", "seq": [1, 2]}))
    child.add_link({"trace_id": "tr-" + "ab" * 16, "span_id": "cd" * 8, "attributes": {"a": 1}})
    child.record_exception(ValueError("boom"))
    child.end(end_time_ns=3_000)
    root.end(outputs="done", end_time_ns=4_000)
    return [root.to_immutable_span().to_dict(), child.to_immutable_span().to_dict()]


def _info() -> TraceInfo:
    return TraceInfo(
        trace_id="tr-" + f"{TRACE:032x}",
        trace_location=TraceLocation.from_experiment_id("0"),
        request_time=1,
        state=TraceState.OK,
        execution_duration=3,
        tags={"t": "ü"},
    )


def _texts(dicts: list[dict[str, Any]]) -> list[str]:
    # what tracklet-sql writes in spans.content
    return [json.dumps(d, ensure_ascii=False, default=str) for d in dicts]


def _eager(texts: list[str]) -> list[Span]:
    return [Span.from_dict(json.loads(t)) for t in texts]


def _lazy(texts: list[str]) -> list[LazySpan]:
    return [LazySpan.from_stored_content(t, json_dumps=True) for t in texts]


def _ascii(d: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d).replace("é", "e"))


@pytest.mark.parametrize("non_ascii", [True, False])
def test_lazy_spans_give_what_eager_spans_give_before_and_after_reading(non_ascii: bool) -> None:
    dicts = _span_dicts() if non_ascii else [_ascii(d) for d in _span_dicts()]
    texts = _texts(dicts)
    eager, lazy = _eager(texts), _lazy(texts)
    trace_eager, trace_lazy = Trace(_info(), TraceData(eager)), Trace(_info(), TraceData(lazy))

    assert trace_lazy.to_json() == trace_eager.to_json()
    assert trace_lazy.data.to_dict() == trace_eager.data.to_dict()
    assert trace_lazy.data.to_json_bytes() == trace_eager.data.to_json_bytes()
    # nor do the ids, name, times and stored attributes, nor the trace's request/response
    assert [
        (s.name, s.span_id, s.parent_id, s.start_time_ns, s.end_time_ns, s.raw_attributes()) for s in lazy
    ] == [(s.name, s.span_id, s.parent_id, s.start_time_ns, s.end_time_ns, s.raw_attributes()) for s in eager]
    assert (trace_lazy.data.request, trace_lazy.data.response) == (
        trace_eager.data.request,
        trace_eager.data.response,
    )
    assert trace_lazy.search_spans(name="child") == [lazy[1]]
    assert not any(span._materialized for span in lazy)  # none of that built a span
    # the dicts handed out are the caller's: changing them changes nothing stored
    handed = lazy[0].to_dict()
    handed["attributes"].clear()
    assert lazy[0].to_dict() == eager[0].to_dict()

    for e, lz in zip(eager, lazy, strict=True):
        assert isinstance(lz, Span)
        assert lz.span_id == e.span_id and lz.parent_id == e.parent_id and lz.trace_id == e.trace_id
        assert (lz.name, lz.start_time_ns, lz.end_time_ns) == (e.name, e.start_time_ns, e.end_time_ns)
        assert lz.status == e.status and lz.events == e.events and lz.links == e.links
        assert lz.inputs == e.inputs and lz.outputs == e.outputs and lz.attributes == e.attributes
        assert lz.span_type == e.span_type and lz.raw_attributes() == e.raw_attributes()
        assert repr(lz) == repr(e).replace("Span(", "LazySpan(", 1)
        assert lz._materialized
        assert lz.to_dict() == e.to_dict()
        assert lz != e and lz == lz  # identity, as Span
    assert trace_lazy.to_json() == trace_eager.to_json()
    assert trace_lazy.to_json(pretty=True) == trace_eager.to_json(pretty=True)
    assert trace_lazy.data.request == trace_eager.data.request
    assert trace_lazy.search_spans(name="child") == [lazy[1]]


def test_pickles_and_copies_stay_lazy_and_equal() -> None:
    texts = _texts(_span_dicts())
    eager = _eager(texts)
    for span in (_lazy(texts)[1], LazySpan.from_dict_lazy(json.loads(texts[1]))):
        for other in (pickle.loads(pickle.dumps(span)), copy.deepcopy(span), copy.copy(span)):
            assert isinstance(other, LazySpan)
            assert other.to_dict() == eager[1].to_dict()
        assert span.outputs is None and span.status.status_code == SpanStatusCode.ERROR
        assert pickle.loads(pickle.dumps(span)).to_dict() == eager[1].to_dict()  # after reading


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["status"].update(code="STATUS_CODE_OK", message="kept?"),  # from_dict drops it
        lambda d: d.update(end_time_unix_nano=0),  # reads as None
        lambda d: d.update(parent_span_id="AAAAAAAAAAA="),  # a zero parent reads as None
        lambda d: d.update(span_id="AAAAAAAAAAB="),  # non-canonical base64
        lambda d: d.update(trace_id="tr-" + "12345678" * 4, span_id="0000000000001111"),  # 3.5: hex
        lambda d: d.update(start_time_unix_nano="1000"),  # a string time
        lambda d: d.update(links=[{"span_id": "cd" * 8, "trace_id": "ab" * 16, "attributes": None}]),
        lambda d: d.update(extra=1),
    ],
)
def test_a_stored_dict_that_reads_back_differently_is_built_like_the_eager_one(change: Any) -> None:
    d = _span_dicts()[0]
    change(d)
    text = json.dumps(d)
    eager = Span.from_dict(json.loads(text))
    fields = ("name", "span_id", "parent_id", "start_time_ns", "end_time_ns", "status")
    for fields_first in (True, False):
        for lazy in (
            LazySpan.from_stored_content(text, json_dumps=True),
            LazySpan.from_dict_lazy(json.loads(text)),
        ):
            if fields_first:
                assert [getattr(lazy, f) for f in fields] == [getattr(eager, f) for f in fields]
                assert lazy.raw_attributes() == eager.raw_attributes()
            trace_lazy = Trace(_info(), TraceData([lazy]))
            assert trace_lazy.to_json() == Trace(_info(), TraceData([eager])).to_json()
            assert lazy.to_dict() == eager.to_dict()
            assert [getattr(lazy, f) for f in fields] == [getattr(eager, f) for f in fields]


def test_what_from_dict_rejects_fails_when_read() -> None:
    d = _span_dicts()[0]
    d["attributes"].pop("mlflow.traceRequestId")
    lazy = LazySpan.from_stored_content(json.dumps(d))  # building it checks nothing
    with pytest.raises(TrackletException, match="Failed to create a Span"):
        lazy.to_dict()
    with pytest.raises(TrackletException, match="Failed to create a Span"):
        _ = lazy.name
    with pytest.raises(TrackletException):
        LazySpan()


def test_trace_data_from_dict_lazy_defers_only_what_cannot_fail() -> None:
    dicts = _span_dicts()
    odd = json.loads(json.dumps(dicts[1]))
    odd["status"]["message"] = 7  # not canonical: built now (and accepted, as from_dict does)
    data = TraceData.from_dict_lazy({"spans": [dicts[0], odd]})
    assert isinstance(data.spans[0], LazySpan) and not isinstance(data.spans[1], LazySpan)
    assert data.to_dict() == TraceData.from_dict({"spans": [dicts[0], odd]}).to_dict()
    broken = json.loads(json.dumps(dicts[0]))
    del broken["attributes"]["mlflow.traceRequestId"]
    with pytest.raises(TrackletException, match="Failed to create a Span"):
        TraceData.from_dict_lazy({"spans": [dicts[1], broken]})


def test_many_from_stored_content_is_from_stored_content_for_each() -> None:
    texts = _texts(_span_dicts())
    many = LazySpan.many_from_stored_content(texts, json_dumps=True)
    one = _lazy(texts)
    assert [s.__dict__ for s in many] == [s.__dict__ for s in one]
    assert Trace(_info(), TraceData(many)).to_json() == Trace(_info(), TraceData(_eager(texts))).to_json()
    assert [s.name for s in many] == ["root", "child"]


def test_threads_reading_one_lazy_span_at_once_see_the_same_span() -> None:
    texts = _texts(_span_dicts())
    expected = _eager(texts)[1].to_dict()
    spans = LazySpan.many_from_stored_content(texts * 50, json_dumps=True)[1::2]
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def read(kind: int) -> None:
        barrier.wait()
        for span in spans:
            if kind % 2:
                results.append((span.status, span.to_dict()))
            else:
                results.append(
                    (span.status, json.loads(Trace(_info(), TraceData([span])).to_json())["data"]["spans"][0])
                )

    threads = [threading.Thread(target=read, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    dicts = [d for _, d in results]
    assert len(results) == 200 and all(d == expected for d in dicts)
    assert len({id(d) for d in dicts}) == 200  # nobody shares a dict
    assert {status.status_code for status, _ in results} == {SpanStatusCode.ERROR}
