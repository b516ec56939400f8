"""The REST store reads spans lazily: GetTrace and batchGet (ten traces a call) give
LazySpans equal to the spans sent, built only when read."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from tracklet.entities import LiveSpan, Trace, TraceData
from tracklet.entities.span import LazySpan
from tracklet_http.client import RestStore
from tracklet_http.server.app import create_app
from tracklet_http.server.settings import ServerSettings
from tracklet_http.testing import ThreadServer


@pytest.fixture(scope="module")
def rest_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestStore]:
    root: pathlib.Path = tmp_path_factory.mktemp("rest-lazy")
    settings = ServerSettings(
        backend_store_uri=f"sqlite:///{root / 'db.sqlite'}", artifacts_destination=str(root / "artifacts")
    )
    with ThreadServer(create_app(settings)) as server:
        yield RestStore(server.url)


def _spans(number: int) -> list[LiveSpan]:
    trace_id = f"tr-{number:032x}"
    root = LiveSpan("root", trace_id, number, 1, start_time_ns=1_000)
    root.set_inputs({"n": number, "text": "ünï"})
    child = LiveSpan("child", trace_id, number, 2, parent_id=1, start_time_ns=2_000)
    child.end(outputs=[number], end_time_ns=3_000)
    root.end(outputs="done", end_time_ns=4_000)
    return [root.to_immutable_span(), child.to_immutable_span()]


def test_batch_get_trace_spans_gives_lazy_spans_as_sent(rest_store: RestStore) -> None:
    sent = {f"tr-{n:032x}": _spans(n) for n in range(0x100, 0x10C)}  # 12 traces: two batchGet calls
    rest_store.log_spans("0", [span for spans in sent.values() for span in spans])
    unknown = "tr-" + "f" * 32
    got = rest_store.batch_get_trace_spans([*sent, unknown])
    assert list(got) == [*sent, unknown] and got[unknown] == []
    for trace_id, spans in sent.items():
        for lazy in (got[trace_id], rest_store.get_trace_spans(trace_id)):
            assert all(isinstance(s, LazySpan) and not s._materialized for s in lazy)
            assert [s.to_dict() for s in lazy] == [s.to_dict() for s in spans]
            info = rest_store.get_trace_info(trace_id)
            assert Trace(info, TraceData(lazy)).to_json() == Trace(info, TraceData(spans)).to_json()
            assert [(s.name, s.parent_id, s.inputs, s.outputs) for s in lazy] == [
                (s.name, s.parent_id, s.inputs, s.outputs) for s in spans
            ]
