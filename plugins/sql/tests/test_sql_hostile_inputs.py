"""Hostile input against :class:`SqlStore` itself (sqlite, and PostgreSQL and MariaDB when
they answer): every case is an ``INVALID_PARAMETER_VALUE``, never a driver error, and the
largest searches the core allows run on every database."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tracklet.entities import Metric, Param, RunTag, ViewType  # noqa: E402
from tracklet.exceptions import TrackletException  # noqa: E402
from tracklet.search import (  # noqa: E402
    MAX_FILTER_COMPARISONS,
    MAX_FILTER_VALUES,
    MAX_ORDER_BY_CLAUSES,
)
from tracklet_sql.store import SqlStore  # noqa: E402


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mysql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, new_server_database: Any
) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        yield SqlStore("sqlite:///" + str(tmp_path_factory.mktemp("hostile") / "t.db"))
        return
    with new_server_database(request.param) as uri:
        store = SqlStore(uri)
        yield store
        store.close()


@pytest.fixture(scope="module")
def world(store: SqlStore) -> dict[str, str]:
    experiment_id = store.create_experiment("hostile")
    run = store.create_run(experiment_id, "u", 0, [], "r")
    for step in range(3):
        store.log_metric(run.info.run_id, Metric("m", 1.0 + step, step, step))
    store.log_param(run.info.run_id, Param("p", "v"))
    second = store.create_run(experiment_id, "u", 1, [], "r2")
    return {"experiment_id": experiment_id, "run_id": run.info.run_id, "second": second.info.run_id}


def _refused(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(TrackletException) as info:
        fn(*args, **kwargs)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE", info.value
    return info.value.message


def _token(body: object) -> str:
    return base64.b64encode(json.dumps(body).encode()).decode()


@pytest.mark.parametrize("spelling", ["0{id}", " {id}", "+{id}", "{id}_0", "{id}\n"])
def test_other_spellings_of_an_experiment_id_are_refused(
    store: SqlStore, world: dict[str, str], spelling: str
) -> None:
    experiment_id = world["experiment_id"]
    other = spelling.format(id=experiment_id)
    for call in (store.get_experiment, store.delete_experiment, store.restore_experiment):
        _refused(call, other)
    _refused(store.rename_experiment, other, "renamed")
    _refused(store.search_runs, [other], "", ViewType.ALL, 10)
    experiment = store.get_experiment(experiment_id)
    assert (experiment.name, experiment.lifecycle_stage) == ("hostile", "active")


def test_arabic_indic_digit_is_not_experiment_one(store: SqlStore) -> None:
    assert "'1'" in _refused(store.get_experiment, "\u0661")


@pytest.mark.parametrize(
    "body",
    [{"offset": 2**63}, {"offset": 10**30}, {"offset": "9" * 40}, {"offset": -1}, {"offset": 1.5}],
    ids=["2**63", "10**30", "40-digit-string", "negative", "float"],
)
def test_forged_offsets_are_refused_everywhere(store: SqlStore, world: dict[str, str], body: object) -> None:
    token = _token(body)
    _refused(store.search_runs, [world["experiment_id"]], "", ViewType.ALL, 1, None, token)
    _refused(store.search_experiments, ViewType.ALL, 1, None, None, token)
    _refused(store.get_metric_history, world["run_id"], "m", 1, token)


def test_the_largest_offset_is_an_empty_page(store: SqlStore, world: dict[str, str]) -> None:
    token = _token({"offset": 2**63 - 1})
    assert list(store.search_runs([world["experiment_id"]], "", ViewType.ALL, 1, None, token)) == []
    assert list(store.search_experiments(ViewType.ALL, 1, None, None, token)) == []
    assert list(store.get_metric_history(world["run_id"], "m", 1, token)) == []


def _forged_cursor(
    store: SqlStore, world: dict[str, str], order_by: list[str], index: int, value: object
) -> str:
    page = store.search_runs([world["experiment_id"]], "", ViewType.ALL, 1, order_by)
    assert page.token
    body = json.loads(base64.b64decode(page.token))
    if index < 0:
        body["id"] = value
    else:
        body["after"][index] = value
    return base64.b64encode(json.dumps(body).encode()).decode()


@pytest.mark.parametrize(
    ("order_by", "index", "value"),
    [
        (["start_time DESC"], 1, 2**63),  # an int64 column
        (["start_time DESC"], 1, -(10**30)),
        (["metrics.m DESC"], 1, 10**400),  # a double column
        (["metrics.m DESC"], 1, float("nan")),
        (["params.p"], 1, "\ud800"),  # a text column
        (["params.p"], 1, "a\x00b"),
        (["start_time DESC"], -1, "\udfff"),  # the row id
    ],
    ids=["int-over", "int-under", "double-over", "nan", "surrogate", "nul", "row-id"],
)
def test_forged_keyset_values_are_refused(
    store: SqlStore, world: dict[str, str], order_by: list[str], index: int, value: object
) -> None:
    token = _forged_cursor(store, world, order_by, index, value)
    assert "page token" in _refused(
        store.search_runs, [world["experiment_id"]], "", ViewType.ALL, 1, order_by, token
    )


@pytest.mark.parametrize("bad", ["a\x00b", "\ud800", "x\udfffy"])
def test_text_no_database_takes_is_refused(store: SqlStore, world: dict[str, str], bad: str) -> None:
    run_id = world["run_id"]
    _refused(store.log_param, run_id, Param("bad", bad))
    _refused(store.set_tag, run_id, RunTag("bad", bad))
    _refused(store.log_batch, run_id, [], [], [RunTag("bad", bad)])
    _refused(store.create_experiment, "exp" + bad)
    _refused(store.search_runs, [world["experiment_id"]], f"params.p = '{bad}'", ViewType.ALL, 10)


@pytest.mark.parametrize(("timestamp", "step"), [(2**63, 0), (0, 2**63), (0, -(2**63) - 1)])
def test_metric_integers_beyond_int64_are_refused(
    store: SqlStore, world: dict[str, str], timestamp: int, step: int
) -> None:
    _refused(store.log_metric, world["run_id"], Metric("big", 1.0, timestamp, step))
    _refused(store.log_batch, world["run_id"], [Metric("big", 1.0, timestamp, step)], [], [])


def test_largest_allowed_searches_run_on_every_database(store: SqlStore, world: dict[str, str]) -> None:
    experiment_ids = [world["experiment_id"]]
    order_by = [f"metrics.m{i} DESC" for i in range(MAX_ORDER_BY_CLAUSES - 1)] + ["params.p"]
    assert len(store.search_runs(experiment_ids, "", ViewType.ALL, 10, order_by)) == 2
    filter_string = " AND ".join(
        ["params.p = 'v'"] + [f"params.p{i} IS NULL" for i in range(MAX_FILTER_COMPARISONS - 1)]
    )
    assert [r.info.run_id for r in store.search_runs(experiment_ids, filter_string, ViewType.ALL, 10)] == [
        world["run_id"]
    ]
    ids = [world["second"]] + [f"{i:032x}" for i in range(MAX_FILTER_VALUES - 1)]
    in_list = "run_id IN (" + ",".join(f"'{i}'" for i in ids) + ")"
    assert [r.info.run_id for r in store.search_runs(experiment_ids, in_list, ViewType.ALL, 10)] == [
        world["second"]
    ]


def test_one_more_order_by_clause_is_refused(store: SqlStore, world: dict[str, str]) -> None:
    order_by = [f"metrics.m{i}" for i in range(MAX_ORDER_BY_CLAUSES + 1)]
    message = _refused(store.search_runs, [world["experiment_id"]], "", ViewType.ALL, 10, order_by)
    assert f"at most {MAX_ORDER_BY_CLAUSES}" in message
    assert f"at most {MAX_ORDER_BY_CLAUSES}" in _refused(
        store.search_experiments, ViewType.ALL, 10, None, ["name"] * (MAX_ORDER_BY_CLAUSES + 1)
    )


def test_text_longer_than_its_column_is_refused(store: SqlStore, world: dict[str, str]) -> None:
    """PostgreSQL and MariaDB refuse a value longer than its column with a driver error."""
    from tracklet.entities import Dataset, DatasetInput, InputTag

    assert "user_id" in _refused(store.create_run, world["experiment_id"], "u" * 257, 0, [], None)
    for dataset_input in (
        DatasetInput(Dataset("d", "x", "s" * 37, "src"), []),
        DatasetInput(Dataset("d", "x", "local", "src"), [InputTag("k" * 256, "v")]),
        DatasetInput(Dataset("d", "x", "local", "src"), [InputTag("k", "v" * 501)]),
    ):
        _refused(store.log_inputs, world["run_id"], [dataset_input])
