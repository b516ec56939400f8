"""PostgreSQL: a search that reads every run of experiments that are most of a large store
runs with nested-loop joins off (:mod:`tracklet_sql._search_plan`), and any other search
as the planner likes.

The size that counts as large is lowered for these tests (:data:`LARGE_RUNS`), so a few
dozen runs stand for the hundred thousands the rule is for; what is sent is read on the
wire (libpq's trace), the plan from EXPLAIN, and the answers are checked against the
in-memory reference.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from tracklet.entities import Metric, Param, RunTag
from tracklet.search import ATTRIBUTE, METRIC, OrderKey, parse_filter, search_runs_in_memory
from tracklet.testing import in_forked_child
from tracklet_sql import _search_plan
from tracklet_sql.store import SqlStore

RoundTrips = Callable[[SqlStore, Callable[[], object]], list[str]]

FILTER = "metrics.m1 > 0.5 and params.p1 = 'a'"
ORDER = ["metrics.m2 DESC"]
SETTING = "SET LOCAL enable_nestloop = off"


@pytest.fixture
def store(
    empty_postgres_uri: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SqlStore]:
    monkeypatch.setattr(_search_plan, "LARGE_RUNS", 20)
    opened = SqlStore(empty_postgres_uri, str(tmp_path / "artifacts"))
    yield opened
    opened.close()


def _fill(store: SqlStore, name: str, runs: int) -> str:
    experiment_id = store.create_experiment(name)
    for i in range(runs):
        run_id = store.create_run(experiment_id, "u", i, [], f"{name}-{i}").info.run_id
        store.log_batch(
            run_id,
            metrics=[Metric("m1", (i * 7 % 10) / 10, 1, 0), Metric("m2", (i * 3 % 11) / 10, 1, 0)],
            params=[Param("p1", "a" if i % 2 == 0 else "b")],
            tags=[RunTag("t", str(i % 3))],
        )
    return str(experiment_id)


def _search(
    store: SqlStore, experiment_id: str, filter_string: str = FILTER, order: list[str] = ORDER
) -> list[str]:
    return [run.info.run_id for run in store.search_runs([experiment_id], filter_string, order_by=order)]


def _expected(
    store: SqlStore, experiment_id: str, filter_string: str = FILTER, order: list[str] = ORDER
) -> list[str]:
    everything = [
        store.get_run(run.info.run_id) for run in store.search_runs([experiment_id], max_results=1000)
    ]
    return [run.info.run_id for run in search_runs_in_memory(everything, filter_string, order, 1000, None)]


def _sent(trips: list[str]) -> str:
    return " | ".join(trips)


def test_a_large_experiment_that_is_most_of_the_store_is_searched_without_nested_loops(
    store: SqlStore, round_trips: RoundTrips
) -> None:
    big = _fill(store, "big", 30)
    found: list[list[str]] = []
    trips = round_trips(store, lambda: found.append(_search(store, big)))
    assert SETTING in _sent(trips), trips
    assert "/* tracklet: hash joins */" in _sent(trips), trips
    assert found[0] == _expected(store, big)
    assert len(found[0]) > 0


def test_a_small_share_of_the_store_keeps_the_planners_choice(
    store: SqlStore, round_trips: RoundTrips
) -> None:
    small = _fill(store, "small", 25)  # large enough, but 25 of 25 + 40 runs
    _fill(store, "other", 40)
    found: list[list[str]] = []
    trips = round_trips(store, lambda: found.append(_search(store, small)))
    assert SETTING not in _sent(trips), trips
    assert found[0] == _expected(store, small)


def test_a_small_experiment_does_not_count_the_store(store: SqlStore, round_trips: RoundTrips) -> None:
    few = _fill(store, "few", 10)
    trips = round_trips(store, lambda: _search(store, few))
    sent = _sent(trips)
    assert SETTING not in sent, trips
    assert sent.count("count(*)") == 1, trips  # the experiment's runs, not the store's


def test_the_size_is_counted_once_a_minute(
    store: SqlStore, round_trips: RoundTrips, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = _fill(store, "big", 30)
    _search(store, big)
    again = round_trips(store, lambda: _search(store, big))
    assert "count(*)" not in _sent(again), again
    assert SETTING in _sent(again), again
    # the set grows into a small share of the store: seen at the next count
    _fill(store, "other", 70)
    assert SETTING in _sent(round_trips(store, lambda: _search(store, big)))  # still trusted
    monkeypatch.setattr(_search_plan, "RECHECK_S", 0.0)
    recounted = round_trips(store, lambda: _search(store, big))
    assert "count(*)" in _sent(recounted), recounted
    assert SETTING not in _sent(recounted), recounted


def test_the_setting_ends_with_the_search(store: SqlStore) -> None:
    big = _fill(store, "big", 30)
    _search(store, big)
    with store.engine.connect() as conn:  # the pool's one connection, used by the search
        assert conn.exec_driver_sql("SHOW enable_nestloop").scalar_one() == "on"


def test_a_failing_search_leaves_no_transaction_or_setting(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = _fill(store, "big", 30)
    expected = _expected(store, big)
    # PostgreSQL rejects the statement inside the transaction that holds the setting
    monkeypatch.setattr(_search_plan, "_MARK", "NOT SQL ")
    with pytest.raises(sa.exc.ProgrammingError, match="syntax error"):
        _search(store, big)
    monkeypatch.undo()
    monkeypatch.setattr(_search_plan, "LARGE_RUNS", 20)
    assert _search(store, big) == expected
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW enable_nestloop").scalar_one() == "on"


def test_keyset_pages_and_searches_without_lookups_count_nothing(
    store: SqlStore, round_trips: RoundTrips
) -> None:
    big = _fill(store, "big", 30)
    for filter_string, order in [
        (FILTER, []),  # the default order: a keyset page, read newest first until it is full
        ("attributes.run_name LIKE 'big-1%'", ["attributes.run_name ASC"]),
    ]:
        trips = round_trips(store, lambda f=filter_string, o=order: _search(store, big, f, o))  # type: ignore[misc]
        assert len(trips) == 1, trips
        assert "count(*)" not in _sent(trips) and SETTING not in _sent(trips), trips


def test_without_statistics_the_planner_would_probe_each_run(store: SqlStore) -> None:
    """The lever is real: on this store (never analyzed) the page statement is planned with
    nested loops, and with the setting the joins are hashed or merged."""
    from tracklet_sql import _search

    big = _fill(store, "big", 30)
    expr = parse_filter(FILTER, "run")
    order_keys = (OrderKey(METRIC, "m2", False),)
    sql, constants = _search._pg_run_page(store.engine.dialect, store.schema, expr, order_keys, "start", True)
    parameters = {**constants, "experiment_id": int(big), "stage": "active", "page_limit": 101}
    with store.engine.connect() as conn:
        default = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql, parameters))
        conn.rollback()
        with conn.begin():
            conn.exec_driver_sql(SETTING)
            hashed = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql, parameters))
    assert "Nested Loop" in default, default
    joins = [line for line in hashed.splitlines() if "Join" in line or "Nested Loop" in line]
    assert joins and not any("Nested Loop" in line for line in joins), hashed


def test_reads_every_run() -> None:
    lookup, attribute = parse_filter(FILTER, "run"), parse_filter("attributes.status = 'RUNNING'", "run")
    by_metric, by_name = (OrderKey(METRIC, "m2", False),), (OrderKey(ATTRIBUTE, "run_name", True),)
    assert _search_plan.reads_every_run(lookup, (), keyset=False)
    assert _search_plan.reads_every_run(None, by_metric, keyset=False)
    assert _search_plan.reads_every_run(attribute, by_metric, keyset=False)
    assert not _search_plan.reads_every_run(lookup, (), keyset=True)
    assert not _search_plan.reads_every_run(attribute, by_name, keyset=False)
    assert not _search_plan.reads_every_run(None, (), keyset=False)


def test_the_statement_is_planned_for_each_call_not_prepared(
    store: SqlStore, round_trips: RoundTrips
) -> None:
    big = _fill(store, "big", 30)
    for _ in range(8):  # psycopg prepares a statement on its 6th call by default
        _search(store, big)
    sent = _sent(round_trips(store, lambda: _search(store, big)))
    # an unnamed Parse is planned for its parameters; a prepared one would be named (_pg3_N)
    assert 'Parse  "" "/* tracklet: hash joins */' in sent, sent
    with store.engine.connect() as conn:  # the connection is left preparing as before
        assert conn.connection.dbapi_connection.prepare_threshold == 5  # type: ignore[union-attr]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() does not exist on this platform")
def test_a_child_forked_after_a_large_search_searches_the_same_way(
    store: SqlStore, round_trips: RoundTrips
) -> None:
    big = _fill(store, "big", 30)
    expected = _search(store, big)  # counted and remembered in the parent

    def child() -> tuple[list[str], str]:
        found: list[list[str]] = []
        sent = _sent(round_trips(store, lambda: found.append(_search(store, big))))
        return found[0], sent

    found, sent = in_forked_child(child)
    assert found == expected
    assert SETTING in sent and "count(*)" not in sent, sent  # the parent's count, kept
    assert _search(store, big) == expected  # and the parent's own connections still work
