"""Search compiled to SQL returns exactly what the in-memory reference returns.

The core is a differential test: one varied data set (missing keys, NaN and
infinite metrics next to ±DBL_MAX, runs without end time, deleted runs, strings with
``%``, ``_``, ``!``, backslashes, trailing spaces, mixed case and non-ASCII, dataset
inputs) is written through :class:`SqlStore`, and for many filters and order-bys
the ids the SQL search returns (whole, and page by page) are compared with
``tracklet.search.search_runs_in_memory`` over the same runs read back with
``get_run``. It runs on sqlite always, and on PostgreSQL and MariaDB/MySQL when
their servers answer (a fresh database per module, dropped afterwards).
"""

from __future__ import annotations

import base64
import json
import math
import random
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event  # noqa: E402

from tracklet.entities import (  # noqa: E402
    Dataset,
    DatasetInput,
    Experiment,
    ExperimentTag,
    InputTag,
    Metric,
    Param,
    Run,
    RunTag,
)
from tracklet.exceptions import TrackletException  # noqa: E402
from tracklet.search import (  # noqa: E402
    decode_page_token,
    encode_page_token,
    search_experiments_in_memory,
    search_runs_in_memory,
)
from tracklet_sql._search import search_experiment_ids, search_run_ids  # noqa: E402
from tracklet_sql.store import SqlStore  # noqa: E402

DBL_MAX = sys.float_info.max
ALL = 50000  # max_results that fetches everything at once
# -- databases -----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mysql"])
def database_uri(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, new_server_database: Any
) -> Iterator[str]:
    if request.param == "sqlite":
        yield "sqlite:///" + str(tmp_path_factory.mktemp("search") / "search.db")
    else:
        with new_server_database(request.param) as uri:
            yield uri


# -- the data set ----------------------------------------------------------------------------------

STRINGS = [
    "a",
    "A",
    "b",
    "a ",
    "a%",
    "a_b",
    "axb",
    "a\\b",
    "a\\\\b",
    "100%",
    "é",
    "É",
    "Élan",
    "élan",
    "ß",
    "x_y%z",
    "abc",
    "a\tb",
    "日本語",
    "a!b",
    "a!!",
    "!",
    "%",
    "_",
    "O'Brien",
    'say "hi"',
    "a\nb",
    "",
]
FLOATS = [0.0, -0.0, 0.5, 0.5, 1.0, -1.0, 2.5, 1e300, DBL_MAX, -DBL_MAX, math.nan, math.inf, -math.inf, 3.0]
DATASETS = [("train", "d1"), ("Train", "d2"), ("test%", "d3"), ("日本", "abc_def"), ("test!x", "d4")]
CONTEXTS = ["training", "eval", "Training", None]
METRIC_KEYS = ["m1", "m2", "loss", "weird key"]


@dataclass
class World:
    """The populated store and what the reference needs: every run and experiment."""

    store: SqlStore
    searched: list[str]  # experiment ids the run searches cover
    runs: dict[str, Run] = field(default_factory=dict)
    experiments: list[Experiment] = field(default_factory=list)


def _add_run(store: SqlStore, experiment_id: str, rng: random.Random, index: int) -> str:
    name = rng.choice(STRINGS[:-1] + [f"run-{index}", f"run-1{index}"])
    run_id = store.create_run(
        experiment_id, rng.choice(["alice", "Bob", "bob"]), 1000 + rng.randrange(20), [], name
    )
    run_id = run_id.info.run_id
    metrics = []
    for key in METRIC_KEYS:
        if rng.random() < 0.75:
            metrics.append(Metric(key, rng.choice(FLOATS), 1, 0))
            if rng.random() < 0.5:  # the latest point is the one with the largest step
                metrics.append(Metric(key, rng.choice(FLOATS), 0, 1))
    # p1 and t1 go through every string in turn, so that each filter has something to find
    params = [Param("p1", STRINGS[index % len(STRINGS)])] if index % 9 != 4 else []
    params += [Param(key, rng.choice(STRINGS)) for key in ("p2", "alpha") if rng.random() < 0.7]
    tags = [RunTag("t1", STRINGS[index * 3 % len(STRINGS)])] if index % 5 != 1 else []
    tags += [RunTag("t2", rng.choice(STRINGS))] if rng.random() < 0.7 else []
    store.log_batch(run_id, metrics, params, tags)
    if rng.random() < 0.5:
        status = rng.choice(["FINISHED", "FAILED", "KILLED"])
        store.update_run_info(run_id, status, 1000 + rng.randrange(20), None)
    if rng.random() < 0.4:
        chosen = rng.sample(DATASETS, rng.randint(1, 2))
        inputs = []
        for name, digest in chosen:
            context = rng.choice(CONTEXTS)
            tags_ = [InputTag("mlflow.data.context", context)] if context else []
            inputs.append(DatasetInput(Dataset(name, digest, "local", "{}"), tags_))
        store.log_inputs(run_id, inputs)
    return run_id


def _add_experiments(store: SqlStore, rng: random.Random) -> None:
    names = ["Exp A", "exp a", "exp_1", "exp%", "Élan", "élan", "日本", "A", "a", "exp!x", "b"]
    for name in names:
        experiment_id = store.create_experiment(name)
        if rng.random() < 0.6:
            store.set_experiment_tag(
                experiment_id, ExperimentTag("owner", rng.choice(["alice", "Bob", "bob"]))
            )
        if rng.random() < 0.4:
            store.set_experiment_tag(experiment_id, ExperimentTag("k-2", rng.choice(STRINGS[:4])))
        if name == "exp%":
            store.delete_experiment(experiment_id)


@pytest.fixture(scope="module")
def world(database_uri: str) -> Iterator[World]:
    store = SqlStore(database_uri)
    rng = random.Random(20240611)
    searched = [store.create_experiment("search-a"), store.create_experiment("search-b")]
    other = store.create_experiment("other")
    run_ids = [_add_run(store, other if i % 6 == 5 else rng.choice(searched), rng, i) for i in range(150)]
    for run_id in rng.sample(run_ids, 20):
        store.delete_run(run_id)
    _add_experiments(store, rng)
    world = World(store, searched)
    world.runs = {run_id: store.get_run(run_id) for run_id in run_ids}
    world.experiments = _all_experiments(store)
    try:
        yield world
    finally:
        store.close()


def test_the_data_set_has_the_edge_cases(world: World):
    runs = list(world.runs.values())
    latest = [value for run in runs for value in run.data.metrics.values()]
    assert any(math.isnan(v) for v in latest) and math.inf in latest and -math.inf in latest
    assert DBL_MAX in latest and -DBL_MAX in latest
    assert any("m1" not in run.data.metrics for run in runs) and any(
        "p1" not in run.data.params for run in runs
    )
    assert any(run.info.end_time is None for run in runs) and any(run.info.end_time for run in runs)
    assert {run.info.lifecycle_stage for run in runs} == {"active", "deleted"}
    assert any(run.inputs.dataset_inputs for run in runs)
    assert {"a\\b", "a ", "É", "a!b", "%"} <= {run.data.params.get("p1") for run in runs}
    assert {e.lifecycle_stage for e in world.experiments} == {"active", "deleted"}


def _all_experiments(store: SqlStore) -> list[Experiment]:
    found = []
    for experiment_id in range(100):
        try:
            found.append(store.get_experiment(str(experiment_id)))
        except TrackletException:
            pass
    return found


# -- searching both ways -------------------------------------------------------------------------------


def _sql_runs(
    world: World,
    stages: Sequence[str],
    filter_string: str | None,
    order_by: Any,
    size: int,
    token: str | None = None,
) -> tuple[list[str], str | None]:
    with world.store.engine.connect() as conn:
        keys = [int(e) for e in world.searched]
        return search_run_ids(conn, keys, stages, filter_string, order_by, size, token)


def _reference_runs(
    world: World, stages: Sequence[str], filter_string: str | None, order_by: Any
) -> list[str]:
    candidates = [
        run
        for run in world.runs.values()
        if run.info.experiment_id in world.searched and run.info.lifecycle_stage in stages
    ]
    return [run.info.run_id for run in search_runs_in_memory(candidates, filter_string, order_by, ALL, None)]


def _sql_experiments(
    world: World,
    stages: Sequence[str],
    filter_string: str | None,
    order_by: Any,
    size: int,
    token: str | None = None,
) -> tuple[list[int], str | None]:
    with world.store.engine.connect() as conn:
        return search_experiment_ids(conn, stages, filter_string, order_by, size, token)


def _reference_experiments(
    world: World, stages: Sequence[str], filter_string: str | None, order_by: Any
) -> list[int]:
    candidates = [e for e in world.experiments if e.lifecycle_stage in stages]
    found = search_experiments_in_memory(candidates, filter_string, order_by, ALL, None)
    return [int(e.experiment_id) for e in found]


def _pages(search: Callable[..., tuple[list[Any], str | None]], *args: Any) -> list[list[Any]]:
    """Every page of ``search(*args, token)``, following the tokens."""
    pages, token = [], None
    while True:
        ids, token = search(*args, token)
        pages.append(ids)
        if token is None:
            return pages
        assert len(pages) < 500, "paging does not end"


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def _with_run_ids(world: World, filter_string: str) -> str:
    ids = sorted(_reference_runs(world, ["active"], None, None))
    return filter_string.replace("{run0}", ids[0]).replace("{run1}", ids[1]).replace("{pre}", ids[2][:1])


def _with_times(world: World, filter_string: str) -> str:
    """``{t}``: a creation time in the middle of the experiments'."""
    times = sorted(e.creation_time for e in world.experiments if e.lifecycle_stage == "active")
    return filter_string.replace("{t}", str(times[len(times) // 2]))


# -- runs: filters --------------------------------------------------------------------------------

METRIC_FILTERS = [
    f"metrics.m1 {op} {value}"
    for op in ("=", "!=", "<", "<=", ">", ">=")
    for value in (
        "0.5",
        "0",
        "-0.0",
        "-1",
        "1e300",
        "1.7976931348623157e308",
        "-1.7976931348623157e308",
        "1e400",
        "-1e400",
    )
]
RUN_FILTERS = METRIC_FILTERS + [
    "",
    "metrics.`weird key` > 0",
    "metrics.loss <= 1 and metrics.m2 > 0",
    "metrics.m2 != 0.5 and metrics.m1 = 0.5",
    "params.p1 = 'a'",
    "params.p1 != 'a'",
    "params.p1 = 'a '",
    "params.p1 = ''",
    "params.p1 != ''",
    "params.p1 = 'É'",
    "params.p1 = 'a\\b'",
    "params.p1 = 'a\tb'",
    "params.p1 = 'O''Brien'",
    "params.p1 IN ('a', 'b', 'É')",
    "params.p1 NOT IN ('a', 'b')",
    "params.p2 IN ('a ', '日本語')",
    "params.p1 LIKE 'a%'",
    "params.p1 LIKE 'a_b'",
    "params.p1 LIKE 'a\\b'",
    "params.p1 LIKE 'a\\%'",
    "params.p1 LIKE 'a\\\\b'",
    "params.p1 LIKE '%!%'",
    "params.p1 LIKE '!'",
    "params.p1 LIKE 'a!_'",
    "params.p1 LIKE '%'",
    "params.p1 LIKE '_'",
    "params.p1 LIKE '__'",
    "params.p1 LIKE '%\\%'",
    "params.p1 LIKE 'a %'",
    "params.p1 LIKE '%é%'",
    "params.p1 LIKE '%\n%'",
    "params.p1 LIKE '100!%'",
    "params.p1 ILIKE 'a%'",
    "params.p1 ILIKE 'élan'",
    "params.p1 ILIKE 'É%'",
    "params.p1 ILIKE '%B'",
    "params.p1 ILIKE 'A!%'",
    "params.p1 ILIKE '_'",
    "params.p1 IS NULL",
    "params.p1 IS NOT NULL",
    "params.alpha IS NULL and params.p1 IS NOT NULL",
    "tags.t1 = 'A'",
    "tags.t1 LIKE '%a%'",
    "tags.t1 ILIKE '%a%'",
    "tags.t1 IS NULL",
    "tags.t2 NOT IN ('a ', '')",
    "tags.mlflow.runName LIKE 'run-%'",
    "attributes.run_name LIKE 'run-1%'",
    "run_name = 'a'",
    "`Run name` ILIKE 'É%'",
    "run_name != 'a'",
    "run_id = '{run0}'",
    "run_id IN ('{run0}', '{run1}', 'nope')",
    "run_id NOT IN ('{run0}')",
    "run_id LIKE '{pre}%'",
    "attributes.run_id != '{run1}'",
    "attributes.user_id = 'bob'",
    "user_id ILIKE 'BOB'",
    "user_id != 'alice'",
    "status = 'FINISHED'",
    "status != 'RUNNING'",
    "status IN ('FAILED', 'KILLED')",
    "status LIKE '%ED'",
    "start_time > 1010",
    "start_time <= 1005",
    "created >= 1005.5",
    "start_time = 1003",
    "start_time != 1003",
    "end_time != 1003",
    "end_time > 0",
    "end_time = 1010",
    "end_time < 1010.5",
    "attributes.artifact_uri LIKE '%artifacts'",
    "artifact_uri LIKE '%{run0}%'",
    "artifact_uri ILIKE '%ARTIFACTS'",
    "datasets.name = 'train'",
    "datasets.name IN ('train', 'test%')",
    "datasets.name LIKE 'test!%'",
    "datasets.name LIKE 'test%'",
    "datasets.name ILIKE 'TRAIN'",
    "datasets.digest = 'd1'",
    "datasets.digest != 'd1'",
    "datasets.digest LIKE 'abc_%'",
    "datasets.context = 'training'",
    "datasets.context ILIKE 'TRAINING'",
    "datasets.context NOT IN ('eval')",
    "datasets.name != 'train'",
    "metrics.m1 > 0 or params.p1 = 'a'",
    "(metrics.m1 > 0 or params.p1 = 'a') and tags.t1 IS NOT NULL",
    "metrics.m1 > 0.5 and params.p1 = 'a'",
    "params.p1 = 'a' or params.p1 = 'b' or params.p2 LIKE '%é%'",
    "(params.p1 IS NULL or metrics.m1 != 0.5) and (start_time > 1005 or datasets.name = 'train')",
    "end_time > 1005 or metrics.m2 < 0",
]


@pytest.mark.parametrize("filter_string", RUN_FILTERS)
def test_run_filter_matches_the_reference(world: World, filter_string: str):
    filter_string = _with_run_ids(world, filter_string)
    for order_by in (None, ["metrics.m1 DESC", "params.p1"]):
        for stages in (["active"], ["active", "deleted"]):
            expected = _reference_runs(world, stages, filter_string, order_by)
            found, token = _sql_runs(world, stages, filter_string, order_by, ALL)
            assert (found, token) == (expected, None), (filter_string, order_by, stages)
    expected = _reference_runs(world, ["active"], filter_string, None)
    pages = _pages(_sql_runs, world, ["active"], filter_string, None, 4)
    assert pages == _chunks(expected, 4)


# -- runs: order-by ---------------------------------------------------------------------------------

RUN_ORDERS = [
    None,
    [],
    ["metrics.m1"],
    ["metrics.m1 DESC"],
    ["metrics.m2 ASC", "params.p1 DESC"],
    ["params.p1"],
    ["params.p1 DESC"],
    ["tags.t1"],
    ["tags.t1 DESC", "metrics.loss"],
    ["start_time"],
    ["start_time DESC"],
    ["end_time"],
    ["end_time DESC"],
    ["attributes.run_name"],
    ["run_name DESC"],
    ["run_id"],
    ["run_id DESC"],
    ["status", "user_id DESC"],
    ["artifact_uri DESC"],
    ["metrics.`weird key` DESC"],
    ["params.alpha", "metrics.m1 DESC", "tags.t2"],
    ["created DESC", "params.p2"],
    ["metrics.m1", "metrics.m1 DESC"],
]


@pytest.mark.parametrize("order_by", RUN_ORDERS, ids=repr)
def test_run_order_matches_the_reference(world: World, order_by: list[str] | None):
    for filter_string in ("", "metrics.m1 > 0 or params.p1 LIKE 'a%'", "params.p2 IS NULL"):
        for stages in (["active"], ["deleted"]):
            expected = _reference_runs(world, stages, filter_string, order_by)
            assert _sql_runs(world, stages, filter_string, order_by, ALL) == (expected, None)
            pages = _pages(_sql_runs, world, stages, filter_string, order_by, 3)
            assert pages == _chunks(expected, 3), (filter_string, stages)


# A clause on a key the order-by joins tests that joined row instead of a second lookup:
# every kind of clause, inside AND and OR, ascending and descending, with the key missing.
SAME_KEY_SEARCHES = [
    ("metrics.m1 > 0", ["metrics.m1"]),
    ("metrics.m1 <= 1e400 and metrics.m1 != 0.5", ["metrics.m1 DESC"]),
    ("metrics.m1 < -1e400 or params.p1 = 'a'", ["metrics.m1", "params.p1 DESC"]),
    ("metrics.`weird key` >= 0 or metrics.`weird key` < 0", ["metrics.`weird key`"]),
    ("params.p1 IS NULL or params.p1 LIKE '%a%'", ["params.p1"]),
    ("params.p1 IS NOT NULL and metrics.m2 > 0", ["params.p1 DESC", "metrics.m2"]),
    ("params.p2 NOT IN ('a', 'b')", ["params.p2"]),
    ("tags.t1 IS NULL", ["tags.t1 DESC"]),
    ("tags.t1 ILIKE '%A%' or tags.t2 = 'a'", ["tags.t1", "tags.t2 DESC"]),
    ("tags.t1 != 'A' and params.p1 != 'a'", ["metrics.m1", "tags.t1", "metrics.m1 DESC"]),
]


@pytest.mark.parametrize(("filter_string", "order_by"), SAME_KEY_SEARCHES, ids=repr)
def test_filter_on_an_order_key_matches_the_reference(world: World, filter_string: str, order_by: list[str]):
    for stages in (["active"], ["active", "deleted"]):
        expected = _reference_runs(world, stages, filter_string, order_by)
        assert _sql_runs(world, stages, filter_string, order_by, ALL) == (expected, None), stages
        pages = _pages(_sql_runs, world, stages, filter_string, order_by, 7)
        assert pages == _chunks(expected, 7), stages


# -- experiments ----------------------------------------------------------------------------------------

EXPERIMENT_FILTERS = [
    "",
    "name = 'Exp A'",
    "name != 'Exp A'",
    "name = 'a'",
    "name LIKE 'exp%'",
    "name ILIKE 'EXP%'",
    "name LIKE 'exp!%'",
    "name LIKE 'exp_1'",
    "name IN ('Élan', 'x', 'a ')",
    "name NOT IN ('a')",
    "name ILIKE 'élan'",
    "attributes.name LIKE '%a'",
    "tags.owner = 'alice'",
    "tags.owner != 'alice'",
    "tags.owner IS NULL",
    "tags.owner IS NOT NULL",
    "tags.owner ILIKE 'BOB'",
    "tags.`k-2` LIKE '%'",
    "tags.`k-2` IN ('a', 'b')",
    "experiment_id = '1'",
    "experiment_id = '01'",
    "experiment_id = 'x'",
    "experiment_id != '1'",
    "experiment_id != 'x'",
    "experiment_id IN ('0', '2', 'x', '02')",
    "experiment_id NOT IN ('0', '2')",
    "experiment_id NOT IN ('x')",
    "experiment_id LIKE '1%'",
    "experiment_id ILIKE '%0'",
    "creation_time > 0",
    "creation_time < 0",
    "last_update_time >= 1",
    "last_update_time < 1e20",
    "creation_time >= {t}",
    "creation_time != {t}",
    "last_update_time < {t}",
    "last_update_time = {t}",
    "name LIKE 'exp%' or tags.owner = 'bob'",
    "(name ILIKE 'e%' or experiment_id = '0') and tags.owner IS NULL",
]
EXPERIMENT_ORDERS = [
    None,
    ["name"],
    ["name DESC"],
    ["experiment_id"],
    ["experiment_id DESC"],
    ["creation_time"],
    ["creation_time DESC", "name"],
    ["last_update_time DESC"],
    ["name", "experiment_id DESC"],
    ["attributes.name DESC", "creation_time"],
]


@pytest.mark.parametrize("filter_string", EXPERIMENT_FILTERS)
def test_experiment_filter_matches_the_reference(world: World, filter_string: str):
    filter_string = _with_times(world, filter_string)
    for order_by in (None, ["name DESC"]):
        for stages in (["active"], ["active", "deleted"], ["deleted"]):
            expected = _reference_experiments(world, stages, filter_string, order_by)
            found = _sql_experiments(world, stages, filter_string, order_by, ALL)
            assert found == (expected, None), (order_by, stages)
    expected = _reference_experiments(world, ["active"], filter_string, None)
    pages = _pages(_sql_experiments, world, ["active"], filter_string, None, 2)
    assert pages == _chunks(expected, 2)


@pytest.mark.parametrize("order_by", EXPERIMENT_ORDERS, ids=repr)
def test_experiment_order_matches_the_reference(world: World, order_by: list[str] | None):
    for filter_string in ("", "name LIKE '%a%'"):
        expected = _reference_experiments(world, ["active", "deleted"], filter_string, order_by)
        assert _sql_experiments(world, ["active", "deleted"], filter_string, order_by, ALL) == (
            expected,
            None,
        )
        pages = _pages(_sql_experiments, world, ["active", "deleted"], filter_string, order_by, 3)
        assert pages == _chunks(expected, 3)


# -- page tokens ------------------------------------------------------------------------------------------


def _encode(body: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(body).encode()).decode()


def _record_statements(engine: sa.Engine) -> list[tuple[str, Any]]:
    """Every statement (with its parameters) the engine runs from now on."""
    seen: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, parameters))

    return seen


def _record_sqlite_statements(engine: sa.Engine) -> list[str]:
    """Every statement sqlite runs from now on, its parameters filled in (sqlite's trace
    callback: the search page query goes to the driver's cursor, past SQLAlchemy's events)."""
    seen: list[str] = []
    engine.dispose()  # new connections, each traced from its start

    @event.listens_for(engine, "connect")
    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    return seen


def test_tokens_are_mlflow_offset_tokens_with_a_cursor(world: World):
    ids, token = _sql_runs(world, ["active"], "", ["metrics.m1"], 5)
    assert token is not None
    body = json.loads(base64.b64decode(token))
    assert set(body) == {"offset", "after", "id", "query"}
    assert body["offset"] == 5 and body["id"] == ids[-1]
    assert decode_page_token(token) == 5  # what an offset-only store reads from it


def test_an_mlflow_offset_token_pages_by_offset(world: World):
    expected = _reference_runs(world, ["active"], "", ["params.p1"])
    ids, token = _sql_runs(world, ["active"], "", ["params.p1"], 4, encode_page_token(6))
    assert ids == expected[6:10]
    assert decode_page_token(token) == 10
    assert _sql_runs(world, ["active"], "", ["params.p1"], 4, token)[0] == expected[10:14]
    experiments = _reference_experiments(world, ["active"], "", None)
    assert _sql_experiments(world, ["active"], "", None, 2, encode_page_token(1))[0] == experiments[1:3]


def _tampered(token: str, **changes: Any) -> str:
    return _encode({**json.loads(base64.b64decode(token)), **changes})


@pytest.mark.parametrize("search", ["runs", "experiments"])
def test_bad_tokens_fail_before_any_query(world: World, search: str):
    def call(token: str, filter_string: str = "") -> Any:
        if search == "runs":
            return _sql_runs(world, ["active"], filter_string, None, 2, token)
        return _sql_experiments(world, ["active"], filter_string, None, 2, token)

    _, good = call(None)  # type: ignore[arg-type]
    bad = [
        "not a token!",
        _encode([1]),
        _encode({"offset": -1}),
        _encode({"offset": True}),
        _encode({"after": []}),
        _tampered(good, query="0" * 16),
        _tampered(good, after=[]),
        _tampered(good, after=["x", 1, 2]),
        _tampered(good, id=None),
        _tampered(good, after=json.loads(base64.b64decode(good))["after"][:-1]),
    ]
    statements = _record_statements(world.store.engine)
    for token in bad:
        with pytest.raises(TrackletException) as caught:
            call(token)
        assert caught.value.error_code == "INVALID_PARAMETER_VALUE", token
        assert "Invalid page token" in caught.value.message
    with pytest.raises(TrackletException, match="different filter or order_by"):
        call(good, "name LIKE '%'" if search == "experiments" else "params.p1 IS NULL")
    assert statements == []


# -- keyset paging while runs are added --------------------------------------------------------------------


@pytest.mark.parametrize("order_by", [None, ["metrics.m DESC"]], ids=repr)
def test_paging_while_runs_are_added_skips_and_repeats_nothing(world: World, order_by: list[str] | None):
    store = world.store
    experiment_id = store.create_experiment(f"keyset-{uuid.uuid4().hex[:8]}")
    for i in range(30):
        run_id = store.create_run(experiment_id, "u", 5000 + i // 3, [], f"r{i}").info.run_id
        store.log_batch(run_id, [Metric("m", float(i // 2), 1, 0)], [], [])
    with store.engine.connect() as conn:
        original, _ = search_run_ids(conn, [int(experiment_id)], ["active"], "", order_by, ALL, None)
    seen: list[str] = []
    token = None
    while True:
        with store.engine.connect() as conn:
            page, token = search_run_ids(conn, [int(experiment_id)], ["active"], "", order_by, 7, token)
        seen += page
        if token is None:
            break
        for _ in range(3):  # newer runs with larger metrics: they sort before everything seen
            new_run = store.create_run(experiment_id, "u", 9000 + len(seen), [], "new").info.run_id
            store.log_batch(new_run, [Metric("m", 1e9, 1, 0)], [], [])
    assert [run_id for run_id in seen if run_id in original] == original
    assert len(seen) == len(set(seen))


# -- the query plan (sqlite) -----------------------------------------------------------------------------


def _search_plan(store: SqlStore, experiment_id: str, filter_string: str, order_by: list[str]) -> list[str]:
    """sqlite's plan of the page query of this search, after checking its first 100 runs
    against the in-memory reference (the store is closed after)."""
    statements = _record_sqlite_statements(store.engine)
    runs = store.search_runs([experiment_id], filter_string, max_results=100, order_by=order_by)
    (statement,) = [s for s in statements if "sort_0" in s]
    candidates = [store.get_run(r.info.run_id) for r in store.search_runs([experiment_id], max_results=1000)]
    expected = search_runs_in_memory(candidates, filter_string, order_by, 100, None)
    assert runs and [r.info.run_id for r in runs] == [r.info.run_id for r in expected]
    with store.engine.connect() as conn:
        plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement)]
    store.close()
    return plan


def test_benchmark_query_uses_the_primary_keys(tmp_path: Any):
    store = SqlStore("sqlite:///" + str(tmp_path / "plan.db"))
    rng = random.Random(3)
    experiment_id = store.create_experiment("plan")
    for i in range(200):
        run_id = store.create_run(experiment_id, "u", 1000 + i, [], f"r{i}").info.run_id
        store.log_batch(
            run_id,
            [Metric(f"m{k}", rng.random(), 1, 0) for k in range(10)],
            [Param(f"p{k}", rng.choice("abc")) for k in range(10)],
            [RunTag(f"t{k}", rng.choice("xyz")) for k in range(3)],
        )
    plan = _search_plan(store, experiment_id, "metrics.m1 > 0.5 and params.p1 = 'a'", ["metrics.m2 DESC"])
    # runs of the experiment are read through their index, every other table by (run_uuid, key)
    assert not [line for line in plan if line.startswith("SCAN")], plan
    lookups = [line for line in plan if "latest_metrics" in line or "params" in line or "order_0" in line]
    assert len(lookups) == 3 and all("(run_uuid=? AND key=?)" in line for line in lookups), plan


def test_a_filter_on_the_order_key_reads_the_joined_row(tmp_path: Any):
    """sqlite: filtering and ordering on the same metric probes it once per run, not twice."""
    store = SqlStore("sqlite:///" + str(tmp_path / "same-key.db"))
    experiment_id = store.create_experiment("same-key")
    for i in range(40):
        run_id = store.create_run(experiment_id, "u", 1000 + i, [], f"r{i}").info.run_id
        store.log_batch(run_id, [Metric("loss", i / 40, 1, 0)], [Param("lr", "0.01" if i % 2 else "0.1")], [])
    plan = _search_plan(
        store, experiment_id, "metrics.loss < 0.5 and params.lr = '0.01'", ["metrics.loss ASC"]
    )
    assert [line for line in plan if "latest_metrics" in line or "order_0" in line] == [
        "SEARCH order_0 USING PRIMARY KEY (run_uuid=? AND key=?) LEFT-JOIN"
    ], plan
