"""PostgreSQL reads in one round trip: a search page (page query and its runs' rows in
one statement), and the same runs as the five-query path reads them elsewhere.

Round trips are counted on the wire: libpq's trace of the pooled connection the store
uses, one ``ReadyForQuery`` message from the server per round trip.
"""

from __future__ import annotations

import math
import pathlib
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from tracklet.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from tracklet.search import search_runs_in_memory
from tracklet_sql import _engine
from tracklet_sql.store import SqlStore

RoundTrips = Callable[[SqlStore, Callable[[], object]], list[str]]

FILTER = "metrics.m1 > 0.5 and params.p1 = 'a'"
ORDER = ["metrics.m2 DESC"]


@pytest.fixture
def store(empty_postgres_uri: str, tmp_path: pathlib.Path) -> Iterator[SqlStore]:
    opened = SqlStore(empty_postgres_uri, str(tmp_path / "artifacts"))
    yield opened
    opened.close()


def _fill(store: SqlStore, runs: int) -> str:
    experiment_id = store.create_experiment("round-trips")
    values = [0.75, -0.0, 1.0, math.inf, -math.inf, math.nan, 0.1 + 0.2, 5e-324]
    for i in range(runs):
        run_id = store.create_run(experiment_id, "u", i, [], f"run-{i}").info.run_id
        store.log_batch(
            run_id,
            metrics=[
                Metric("m1", values[i % len(values)], 10 + i, i),
                Metric("m2", values[(i * 3) % len(values)], 20 + i, 0),
            ],
            params=[Param("p1", "a" if i % 2 == 0 else "b"), Param("p2", str(i))],
            tags=[RunTag("t", f"v{i % 3}")],
        )
        if i % 4 == 0:
            dataset = Dataset(f"d{i % 8}", f"digest{i}", "local", "{}", None, None)
            store.log_inputs(run_id, [DatasetInput(dataset, [InputTag("z", "1"), InputTag("a", "2")])])
    return str(experiment_id)


def test_search_page_is_one_round_trip(store: SqlStore, round_trips: RoundTrips) -> None:
    experiment_id = _fill(store, 30)
    store.search_runs([experiment_id], FILTER, max_results=5, order_by=ORDER)  # warm the pool
    pages: list[object] = []
    trips = round_trips(
        store,
        lambda: pages.append(store.search_runs([experiment_id], FILTER, max_results=5, order_by=ORDER)),
    )
    assert len(trips) == 1, trips
    assert not any("BEGIN" in trip or "ROLLBACK" in trip for trip in trips), trips
    assert len(pages[0]) == 5  # type: ignore[arg-type]


def test_next_pages_are_one_round_trip_each(store: SqlStore, round_trips: RoundTrips) -> None:
    experiment_id = _fill(store, 12)
    first = store.search_runs([experiment_id], max_results=5)
    trips = round_trips(
        store, lambda: store.search_runs([experiment_id], max_results=5, page_token=first.token)
    )
    assert len(trips) == 1, trips


def test_get_run_and_a_whole_history_are_one_round_trip_each(
    store: SqlStore, round_trips: RoundTrips
) -> None:
    experiment_id = _fill(store, 4)
    run_id = store.search_runs([experiment_id], max_results=1)[0].info.run_id
    store.log_batch(run_id, [Metric("h", float(i), 0, i) for i in range(50)], [], [])
    store.get_run(run_id)  # warm the pool
    assert len(round_trips(store, lambda: store.get_run(run_id))) == 1
    assert len(round_trips(store, lambda: store.get_metric_history(run_id, "h"))) == 1


def test_pages_equal_the_reference_and_the_run_reads(store: SqlStore) -> None:
    experiment_id = _fill(store, 40)
    everything = [
        store.get_run(run.info.run_id) for run in store.search_runs([experiment_id], max_results=1000)
    ]
    for filter_string, order_by in [
        (FILTER, ORDER),
        ("", []),
        ("params.p1 = 'a'", ["metrics.m1 ASC", "tags.t DESC"]),
        ("metrics.m2 >= 0", ["params.p2 ASC"]),
        ("tags.t IN ('v1', 'v2')", ["attributes.run_name DESC"]),
        ("params.p2 NOT IN ('1', '2', '3')", ["metrics.m2 ASC"]),
    ]:
        expected = search_runs_in_memory(everything, filter_string, order_by, 10_000, None)
        got, token = [], None
        while True:
            page = store.search_runs(
                [experiment_id], filter_string, max_results=7, order_by=order_by, page_token=token
            )
            got += list(page)
            token = page.token
            if not token:
                break
        assert [run.info.run_id for run in got] == [run.info.run_id for run in expected], (
            filter_string,
            order_by,
        )
        for run, reference in zip(got, expected, strict=True):
            assert run.info == reference.info
            assert run.data.params == reference.data.params
            assert run.data.tags == reference.data.tags
            assert repr(run.data.metrics) == repr(reference.data.metrics)  # -0.0 and NaN included
            assert {type(v) for v in run.data.metrics.values()} <= {float}
            assert run.inputs == reference.inputs
            again = store.get_run(run.info.run_id)
            assert (again.info, again.data.params, again.data.tags, again.inputs) == (
                run.info,
                run.data.params,
                run.data.tags,
                run.inputs,
            )
            assert repr(again.data.metrics) == repr(run.data.metrics)


def test_a_pooled_connection_killed_while_idle_is_replaced(store: SqlStore) -> None:
    experiment_id = _fill(store, 3)
    with store.engine.connect() as conn:
        pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
    with psycopg.connect(store.engine.url.set(drivername="postgresql").render_as_string(False)) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(_engine._PING_IDLE_S + 0.2)  # idle long enough to be checked before use
    assert len(store.search_runs([experiment_id], max_results=10)) == 3
