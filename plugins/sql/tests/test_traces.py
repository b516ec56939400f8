"""Traces on SQL: the core trace suite on sqlite, PostgreSQL and MariaDB, and what is
SQL's own: the upgrade of a database made before traces (revision 0001), one trace
written by concurrent workers, hostile filter strings, keyset paging while traces arrive.

sqlite gets a new file per test; PostgreSQL and MariaDB one database per session,
emptied before each test (as test_conformance.py).
"""

from __future__ import annotations

import pathlib
import threading
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from click.testing import CliRunner

from tracklet.cli import build_cli
from tracklet.entities import LiveSpan, Span, SpanStatusCode, TraceInfo, TraceLocation, TraceState
from tracklet.exceptions import INVALID_STATE, TrackletException
from tracklet.testing import TraceStoreSuite
from tracklet_sql import _migrations as migrations
from tracklet_sql._engine import make_engine
from tracklet_sql.store import SqlStore

T0 = 1_700_000_000_000


def _open(uri: str, tmp_path: pathlib.Path) -> Iterator[SqlStore]:
    store = SqlStore(uri, str(tmp_path / "artifacts"))
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def any_store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[SqlStore]:
    """An empty store of each dialect (for the SQL-specific tests below)."""
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    else:
        uri = request.getfixturevalue(f"empty_{'postgres' if request.param == 'postgresql' else 'mysql'}_uri")
    yield from _open(uri, tmp_path)


class TestSqliteTraces(TraceStoreSuite):
    @pytest.fixture
    def store(self, tmp_path: pathlib.Path) -> Iterator[SqlStore]:
        yield from _open(f"sqlite:///{tmp_path / 'tracking.db'}", tmp_path)


class TestPostgresTraces(TraceStoreSuite):
    @pytest.fixture
    def store(self, empty_postgres_uri: str, tmp_path: pathlib.Path) -> Iterator[SqlStore]:
        yield from _open(empty_postgres_uri, tmp_path)


class TestMySQLTraces(TraceStoreSuite):
    @pytest.fixture
    def store(self, empty_mysql_uri: str, tmp_path: pathlib.Path) -> Iterator[SqlStore]:
        yield from _open(empty_mysql_uri, tmp_path)


def _info(trace_id: str, request_time: int = T0, **tags: str) -> TraceInfo:
    return TraceInfo(
        trace_id=trace_id,
        trace_location=TraceLocation.from_experiment_id("0"),
        request_time=request_time,
        state=TraceState.OK,
        execution_duration=10,
        trace_metadata={"mlflow.sourceRun": "r" * 32},
        tags=dict(tags),
    )


def _span(trace_number: int, span_number: int, parent: int | None, start_ns: int) -> Span:
    trace_id = f"tr-{trace_number:032x}"
    span = LiveSpan(f"span-{span_number}", trace_id, trace_number, span_number, parent, start_ns)
    span.set_inputs({"n": span_number})
    span.set_status(SpanStatusCode.OK)
    span.end(end_time_ns=start_ns + 1_000_000)
    return span.to_immutable_span()


# -- upgrade of a database made before traces -----------------------------------------------------


def test_a_database_at_the_previous_head_is_upgraded_with_its_data(tmp_path: pathlib.Path):
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(uri)
    with engine.begin() as conn:  # what tracklet-sql 0.1 (revision 0001) created
        command.upgrade(migrations.alembic_config(conn), "0001")
        conn.execute(
            sa.text(
                "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage) "
                "VALUES (0, 'Default', '/old/0', 'active'), (7, 'kept', '/old/7', 'active')"
            )
        )
    assert migrations.current_revision(engine) == "0001"
    with pytest.raises(TrackletException, match="tracklet db upgrade") as refused:
        SqlStore(uri, str(tmp_path / "artifacts"))
    assert refused.value.error_code == INVALID_STATE
    result = CliRunner().invoke(build_cli(), ["db", "upgrade", uri], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert migrations.current_revision(engine) == migrations.HEAD
    engine.dispose()
    store = SqlStore(uri, str(tmp_path / "artifacts"))
    try:
        assert store.get_experiment("7").name == "kept"
        info = _info("tr-" + uuid.uuid4().hex)
        info.trace_location = TraceLocation.from_experiment_id("7")
        stored = store.start_trace(info)
        assert stored.tags["mlflow.artifactLocation"] == f"/old/7/traces/{info.trace_id}/artifacts"
        assert [i.trace_id for i in store.search_traces(["7"])[0]] == [info.trace_id]
    finally:
        store.close()


# -- concurrency ---------------------------------------------------------------------------------


def _race(stores: list[SqlStore], number: int) -> None:
    """Three span batches of one trace (the root alone in one) and its info, sent by four
    threads at once, each through its own store (own connections)."""
    trace_id = f"tr-{number:032x}"
    start = T0 * 1_000_000
    spans = [_span(number, 1, None, start)] + [_span(number, i, 1, start + i * 1_000) for i in range(2, 10)]
    info = _info(trace_id, T0, bucket="7")
    calls = [
        ("log_spans", spans[5:]),
        ("log_spans", spans[1:5]),
        ("log_spans", spans[:1]),
        ("start_trace", info),
    ]
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(store: SqlStore, method: str, argument: object) -> None:
        barrier.wait()
        try:
            if method == "log_spans":
                store.log_spans("0", argument)  # type: ignore[arg-type]
            else:
                store.start_trace(argument)  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(store, method, argument))
        for store, (method, argument) in zip(stores, calls, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = stores[0].get_trace_info(trace_id)
    assert stored.state == TraceState.OK  # the root's, and the info's
    assert stored.request_time == T0
    assert stored.tags["bucket"] == "7"
    assert stored.tags["mlflow.traceName"] == "span-1"
    assert stored.trace_metadata["mlflow.sourceRun"] == "r" * 32
    assert stored.tags["mlflow.artifactLocation"].endswith(f"/0/traces/{trace_id}/artifacts")
    kept = stores[0].get_trace_spans(trace_id)
    assert sorted(s.span_id for s in kept) == sorted(s.span_id for s in spans)
    unknown = f"tr-{number + 0x100:032x}"
    batch = stores[1].batch_get_trace_spans([trace_id, unknown])
    assert [s.to_dict() for s in batch[trace_id]] == [s.to_dict() for s in kept]
    assert batch[unknown] == []


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
def test_one_trace_written_by_four_workers_at_once(dialect: str, request: pytest.FixtureRequest, tmp_path):
    """Whatever the interleaving, every span is kept and the merged info is the finished
    trace's (each writer merges under the trace row's lock)."""
    if dialect == "sqlite":
        uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    else:
        uri = request.getfixturevalue("empty_postgres_uri" if dialect == "postgresql" else "empty_mysql_uri")
    stores = [SqlStore(uri, str(tmp_path / "artifacts")) for _ in range(4)]
    try:
        for number in range(0x5000, 0x5003):
            _race(stores, number)
    finally:
        for store in stores:
            store.close()


# -- hostile input and paging --------------------------------------------------------------------


_HOSTILE = [
    "tags.k = 'x'' OR 1=1 --'",
    "tags.`k'; DROP TABLE trace_info; --` = 'v'",
    "metadata.`mlflow.sourceRun` LIKE '%'' OR ''1''=''1'",
    "tags.k IN ('a', 'b''); DELETE FROM trace_tags; --')",
    "name ILIKE '%\\'%'",
    'status = \'OK" OR "1"="1\'',
]


def test_hostile_filter_strings_match_literally(any_store: SqlStore):
    trace_id = "tr-" + uuid.uuid4().hex
    any_store.start_trace(_info(trace_id, k="v"))
    for text in _HOSTILE:
        try:
            found, _ = any_store.search_traces(["0"], text)
        except TrackletException as exc:
            assert exc.error_code == "INVALID_PARAMETER_VALUE", text
            continue
        assert found == [], text
    # still all there
    assert [i.trace_id for i in any_store.search_traces(["0"], "tags.k = 'v'")[0]] == [trace_id]
    with pytest.raises(TrackletException) as bad_token:
        any_store.search_traces(["0"], "tags.k = 'v'", page_token="eyJvZmZzZXQiOiAxLCAiYWZ0ZXIiOiBbXX0=")
    assert bad_token.value.error_code == "INVALID_PARAMETER_VALUE"


def test_the_longest_values_the_contract_allows_fit(any_store: SqlStore):
    """Trace id 256, client_request_id 250, tag and metadata values 8,000 characters
    (non-ASCII: MySQL counts characters), previews 1,000; found again by the long value
    (PostgreSQL has no value index, MySQL a prefix one)."""
    trace_id = "t" + "x" * 255
    value = "é" * 8000
    info = _info(trace_id, k=value)
    info.client_request_id = "c" * 250
    info.trace_metadata = {"m": value}
    info.request_preview = "ü" * 1000
    stored = any_store.start_trace(info)
    assert (stored.trace_id, stored.client_request_id) == (trace_id, "c" * 250)
    assert stored.request_preview == "ü" * 1000
    found, _ = any_store.search_traces(["0"], f"tags.k = '{value}' AND metadata.m = '{value}'")
    assert [(i.tags["k"], i.trace_metadata["m"]) for i in found] == [(value, value)]
    span = _span(0xABC, 1, None, T0 * 1_000_000)
    any_store.log_spans("0", [span])
    assert any_store.delete_traces("0", trace_ids=[trace_id, span.trace_id]) == 2


def test_log_trace_spans_is_log_spans_then_start_trace(any_store: SqlStore):
    """The one-transaction form stores what the two calls store."""
    results = []
    for number, combined in ((0xC01, False), (0xC02, True)):
        trace_id = f"tr-{number:032x}"
        spans = [_span(number, 1, None, T0 * 1_000_000), _span(number, 2, 1, T0 * 1_000_000 + 5)]
        info = _info(trace_id, T0, bucket="7", **{"mlflow.trace.spansLocation": "TRACKING_STORE"})
        if combined:
            returned = any_store.log_trace_spans(info, spans)
        else:
            any_store.log_spans("0", spans)
            returned = any_store.start_trace(info)
        stored = any_store.get_trace_info(trace_id)
        assert returned == stored
        kept = [s.to_dict() for s in any_store.get_trace_spans(trace_id)]
        assert kept == [s.to_dict() for s in spans]
        tags = {k: v for k, v in stored.tags.items() if k != "mlflow.artifactLocation"}
        results.append(
            (stored.state, stored.request_time, stored.execution_duration, tags, stored.trace_metadata)
        )
    assert results[0] == results[1]
    with pytest.raises(TrackletException) as refused:
        any_store.log_trace_spans(_info("not a trace id!"), [])
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"


def test_spans_come_back_lazy_and_as_logged(any_store: SqlStore):
    """get_trace_spans and batch_get_trace_spans (one query for the page) give LazySpans,
    unbuilt until read, whose dicts and trace JSON are those of the spans logged (non-ASCII
    text included); a trace without spans or unknown gets []."""
    from tracklet.entities import Trace, TraceData
    from tracklet.entities.span import LazySpan

    logged = {}
    for number in (0xD01, 0xD02):
        spans = [_span(number, 1, None, T0 * 1_000_000), _span(number, 2, 1, T0 * 1_000_000 + 5)]
        spans[1] = Span.from_dict({**spans[1].to_dict(), "name": "spän"})
        any_store.log_spans("0", spans)
        logged[f"tr-{number:032x}"] = spans
    any_store.start_trace(_info("tr-" + "e" * 32))  # no spans
    ids = [*logged, "tr-" + "e" * 32, "tr-" + "f" * 32]
    batch = any_store.batch_get_trace_spans(ids)
    assert list(batch) == ids and batch[ids[2]] == [] and batch[ids[3]] == []
    one = any_store.batch_get_trace_spans(ids[:1])[ids[0]]  # a page of one trace
    assert [s.to_dict() for s in one] == [s.to_dict() for s in logged[ids[0]]]
    for trace_id, spans in logged.items():
        for got in (batch[trace_id], any_store.get_trace_spans(trace_id)):
            assert all(isinstance(s, LazySpan) and not s._materialized for s in got)
            info = any_store.get_trace_info(trace_id)
            assert Trace(info, TraceData(got)).to_json() == Trace(info, TraceData(spans)).to_json()
            assert [s.to_dict() for s in got] == [s.to_dict() for s in spans]
            assert not any(s._materialized for s in got)
            assert [(s.name, s.parent_id, s.inputs) for s in got] == [
                (s.name, s.parent_id, s.inputs) for s in spans
            ]


_FILTERS = [
    "tags.k = 'a'",
    "tags.k IN ('a', 'b') AND status = 'OK'",
    "tags.k != 'a'",
    "tags.k IS NULL",
    "metadata.m = 'x' AND tags.k LIKE '%a%'",
    "tags.k = 'a' OR metadata.m = 'y'",
    "(tags.k = 'b' OR tags.k IS NULL) AND timestamp_ms > 1700000000003",
    "trace_id IN ('tr-00000000000000000000000000000a01', 'tr-00000000000000000000000000000a05')",
    "name ILIKE 'ROOT%' AND execution_time_ms >= 10",
    "run_id = 'rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr' AND end_time_ms < 1700000000020",
]


def test_search_matches_the_in_memory_reference_by_either_plan(
    any_store: SqlStore, monkeypatch: pytest.MonkeyPatch
):
    """Each filter gives what tracklet.search.filter_traces gives over all the infos, in
    order, with sqlite fetching matches by key or walking the experiment's index."""
    from tracklet.search import filter_traces, parse_trace_filter, parse_trace_order_by
    from tracklet_sql import _search_traces

    for n in range(12):
        tags = {"k": "ab"[n % 2]} if n % 3 else {}
        info = _info(f"tr-{0xA00 + n:032x}", T0 + n // 2, **tags, **{"mlflow.traceName": f"root-{n}"})
        info.trace_metadata = {**info.trace_metadata, "m": "xy"[n % 2]}
        info.execution_duration = 5 * n
        any_store.start_trace(info)
    everything = any_store.search_traces(["0"], max_results=100)[0]
    for order in (None, ["tags.k DESC", "execution_time_ms"]):
        for text in _FILTERS:
            wanted = filter_traces(everything, parse_trace_filter(text), parse_trace_order_by(order))
            for few in (1000, 0):
                monkeypatch.setattr(_search_traces, "FEW_MATCHES", few)
                found = any_store.search_traces(["0"], text, 100, order)[0]
                assert [i.trace_id for i in found] == [i.trace_id for i in wanted], (text, order, few)


def test_pages_stay_put_while_newer_traces_arrive(any_store: SqlStore):
    """Keyset tokens: traces logged between two pages (newer, so sorting first) neither
    repeat nor hide what follows; an MLflow offset-only token still works."""
    ids = [f"tr-{0x100 + i:032x}" for i in range(7)]
    for i, trace_id in enumerate(ids):
        any_store.start_trace(_info(trace_id, T0 + i // 2, bucket="7"))
    expected = [i.trace_id for i in any_store.search_traces(["0"], "tags.bucket = '7'", 100)[0]]
    assert sorted(expected) == sorted(ids)
    seen, token = [], None
    for n in range(10):
        page, token = any_store.search_traces(["0"], "tags.bucket = '7'", 3, page_token=token)
        seen += [i.trace_id for i in page]
        any_store.start_trace(_info(f"tr-{0x900 + n:032x}", T0 + 100 + n, bucket="7"))
        if token is None:
            break
    assert seen == expected
    from tracklet.search import encode_page_token

    second, _ = any_store.search_traces(["0"], "tags.bucket = '7'", 2, page_token=encode_page_token(2))
    everything = [i.trace_id for i in any_store.search_traces(["0"], "tags.bucket = '7'", 100)[0]]
    assert [i.trace_id for i in second] == everything[2:4]
