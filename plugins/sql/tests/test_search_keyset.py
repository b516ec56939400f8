"""Paging in the default order through the runs index (tracklet_sql._search_keyset).

Runs with tied start times, runs without one (NULL, sorted last) and deleted runs are
paged through with small pages on every dialect, one experiment and several, and
compared with the in-memory reference; on sqlite and PostgreSQL the page after a cursor
must read index ranges, not sort the experiment.
"""

from __future__ import annotations

import pathlib
import random
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tracklet.entities import Metric, Param
from tracklet.search import search_runs_in_memory
from tracklet_sql._schemas import tracklet_schema
from tracklet_sql._search import _page_statement, _run_query, search_run_ids, search_runs
from tracklet_sql.store import SqlStore

ALL = 10_000


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mysql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, new_server_database: Any
) -> Iterator[SqlStore]:
    def filled(uri: str) -> SqlStore:
        store = SqlStore(uri)
        rng = random.Random(19)
        first, second = store.create_experiment("keyset-a"), store.create_experiment("keyset-b")
        no_start = []
        for i in range(45):
            experiment_id = second if i % 5 == 4 else first
            run = store.create_run(experiment_id, "u", 1000 + i // 4, [], f"r{i}")  # ties of four
            store.log_batch(run.info.run_id, [Metric("m", rng.random(), 1, 0)], [Param("p", "ab"[i % 2])], [])
            if i % 7 == 3:
                no_start.append(run.info.run_id)
            if i % 11 == 6:
                store.delete_run(run.info.run_id)
        with store.engine.begin() as conn:
            runs = tracklet_schema().runs
            conn.execute(sa.update(runs).where(runs.c.run_uuid.in_(no_start)).values(start_time=None))
        return store

    if request.param == "sqlite":
        store = filled(f"sqlite:///{tmp_path_factory.mktemp('keyset') / 'keyset.db'}")
        yield store
        store.close()
    else:
        with new_server_database(request.param) as uri:
            store = filled(uri)
            yield store
            store.close()


def _experiments(store: SqlStore) -> dict[str, str]:
    return {e.name: e.experiment_id for e in store.search_experiments() if e.name.startswith("keyset-")}


def _expected(store: SqlStore, experiment_ids: list[str], stages: list[str], filter_string: str) -> list[str]:
    with store.engine.connect() as conn:
        found, _ = search_run_ids(conn, [int(e) for e in experiment_ids], stages, None, None, ALL, None)
        runs = [store.get_run(run_id) for run_id in found]
    assert len(runs) == len({r.info.run_id for r in runs})
    return [r.info.run_id for r in search_runs_in_memory(runs, filter_string, None, ALL, None)]


@pytest.mark.parametrize("whole_runs", [False, True], ids=["ids", "runs"])
@pytest.mark.parametrize("order_by", [None, ["attributes.start_time DESC"]], ids=["default", "start_time"])
@pytest.mark.parametrize("filter_string", ["", "params.p = 'a'"], ids=["all", "filtered"])
@pytest.mark.parametrize("experiments", [["keyset-a"], ["keyset-a", "keyset-b"]], ids=["one", "two"])
@pytest.mark.parametrize("stages", [["active"], ["active", "deleted"]], ids=["active", "all"])
def test_pages_in_the_default_order_are_the_reference_order(
    store: SqlStore,
    whole_runs: bool,
    order_by: list[str] | None,
    filter_string: str,
    experiments: list[str],
    stages: list[str],
):
    names = _experiments(store)
    experiment_ids = [names[name] for name in experiments]
    expected = _expected(store, experiment_ids, stages, filter_string)
    assert any(store.get_run(r).info.start_time is None for r in expected)
    keys = [int(e) for e in experiment_ids]
    for size in (1, 3, 4, 7):
        seen: list[str] = []
        token = None
        while True:
            with store.engine.connect() as conn:
                if whole_runs:
                    runs, token = search_runs(conn, keys, stages, filter_string, order_by, size, token)
                    page = [run.info.run_id for run in runs]
                else:
                    page, token = search_run_ids(conn, keys, stages, filter_string, order_by, size, token)
            assert len(page) <= size
            seen += page
            if token is None:
                break
        assert seen == expected, size


def test_a_sqlite_page_after_a_cursor_reads_index_ranges(tmp_path: pathlib.Path):
    store = SqlStore(f"sqlite:///{tmp_path / 'plan.db'}")
    experiment_id = store.create_experiment("plan")
    for i in range(30):
        store.create_run(experiment_id, "u", 1000 + i, [], f"r{i}")
    query = _run_query(tracklet_schema(), "sqlite", None, ())
    for resume in ("start", "after", "after_null"):
        statement = _page_statement(query, resume)
        parameters = {"experiment_ids": [int(experiment_id)], "stages": ["active"], "page_limit": 11}
        parameters.update(after_0=0, after_1=1010, after_2="x")
        with store.engine.connect() as conn:
            compiled = statement.compile(conn)
            state = compiled.construct_expanded_state(parameters)
            positional = [state.parameters[name] for name in state.positiontup or ()]
            plan = [
                row[3]
                for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + state.statement, tuple(positional))
            ]
        searches = [line for line in plan if line.startswith("SEARCH runs")]
        assert searches and all("ix_runs_experiment_stage_newest" in line for line in searches), plan
        # no sort of the experiment: only the merge of the (at most page-sized) ranges sorts
        assert not [line for line in plan if line.startswith("SCAN runs")], plan
        assert "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY" not in plan, plan
        if resume == "start":
            assert not [line for line in plan if "TEMP B-TREE" in line], plan
    store.close()
