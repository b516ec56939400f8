"""Reliability of tracklet-sql with real processes and real databases (issue 3's reliability bars).

* Many processes logging single metric points to one sqlite file (8) or one PostgreSQL
  database (4) at once lose nothing, whether the children were spawned fresh or forked
  from a parent that had already used the store (the fork must not reuse the parent's
  pooled connections).
* A writer killed with SIGKILL in the middle of a ``log_batch`` loop leaves a database that
  opens, holds every acknowledged batch, and no partial batch.
* Refused input (bad values, bad keys, unknown runs, changed params), also when the refused
  batch carries valid NaN/inf points, leaves every row of every table as it was. The core
  conformance suite already checks the error codes and ``get_run`` snapshots of each refusal;
  these tests add the database-level snapshot and the non-finite values.

No timing is asserted; sizes are chosen so the module runs in about a minute on 2 cores.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import runpy
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa  # noqa: E402

import tracklet  # noqa: E402
from tracklet.entities import Metric, Param, RunTag  # noqa: E402
from tracklet.exceptions import (  # noqa: E402
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
)
from tracklet.testing import raises_code, run_state  # noqa: E402
from tracklet_sql import _schema  # noqa: E402
from tracklet_sql._engine import make_engine  # noqa: E402
from tracklet_sql.store import SqlStore  # noqa: E402

POSTGRES = os.environ.get("TRACKLET_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test")
T0 = 1_700_000_000_000


# -- databases --------------------------------------------------------------------------------------


@pytest.fixture
def postgres_db(new_server_database: Any) -> Iterator[str]:
    """A fresh PostgreSQL database for this test."""
    with new_server_database("postgresql") as uri:
        yield uri


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    """A sqlite file of this test (created on first use)."""
    return f"sqlite:///{tmp_path / 'tracking.db'}"


def _new_run(uri: str) -> str:
    """A run in a new experiment of the database at ``uri``, made through the public client."""
    client = tracklet.MlflowClient(uri)
    experiment_id = client.create_experiment(f"rel-{uuid.uuid4().hex[:8]}")
    return str(client.create_run(experiment_id).info.run_id)


# -- many processes, one database ----------------------------------------------------------------------

#: What a spawned child runs (through ``runpy.run_path``: spawned children must import their
#: target by name, and this test module is not importable by name under --import-mode=importlib).
_LOGGER_SCRIPT = """
import tracklet
client = tracklet.MlflowClient(URI)
for i in range(POINTS):
    client.log_metric(RUN_ID, "shared", WORKER * 100_000 + i, timestamp=T0 + i, step=i)
"""


def _log_with_inherited_client(client: Any, run_id: str, worker: int, points: int) -> None:
    """A forked child's work: the same points, through the client the parent already used."""
    for i in range(points):
        client.log_metric(run_id, "shared", worker * 100_000 + i, timestamp=T0 + i, step=i)


def _run_children(context: str, uri: str, run_id: str, workers: int, points: int, tmp_path: Path) -> None:
    """Log ``points`` single points from each of ``workers`` processes at once; all must exit cleanly."""
    if context == "spawn":
        script = tmp_path / "logger.py"
        script.write_text(_LOGGER_SCRIPT)
        ctx = multiprocessing.get_context("spawn")
        children = [
            ctx.Process(
                target=runpy.run_path,
                args=(str(script), {"URI": uri, "RUN_ID": run_id, "WORKER": w, "POINTS": points, "T0": T0}),
            )
            for w in range(workers)
        ]
    else:
        # The parent uses the store first, so its engine holds pooled connections when it forks.
        client = tracklet.MlflowClient(uri)
        client.log_metric(run_id, "parent", 1.0, timestamp=T0, step=0)
        assert client.get_run(run_id).data.metrics["parent"] == 1.0
        ctx = multiprocessing.get_context("fork")
        children = [
            ctx.Process(target=_log_with_inherited_client, args=(client, run_id, w, points))
            for w in range(workers)
        ]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=300)
    codes = [child.exitcode for child in children]
    for child in children:
        if child.is_alive():
            child.kill()
    assert codes == [0] * workers, f"children exited with {codes} (tracebacks are on stderr)"
    if context == "fork":
        # the parent's own connections still work after its children used theirs
        client.log_metric(run_id, "parent", 2.0, timestamp=T0 + 1, step=1)


def _check_points(uri: str, run_id: str, workers: int, points: int) -> None:
    """Every point of every worker is in the history, once, and the latest value follows it."""
    client = tracklet.MlflowClient(uri)
    history = client.get_metric_history(run_id, "shared")
    assert len(history) == workers * points
    assert sorted((m.value, m.step, m.timestamp) for m in history) == sorted(
        (float(w * 100_000 + i), i, T0 + i) for w in range(workers) for i in range(points)
    )
    latest = max(history, key=lambda m: (m.step, m.timestamp, m.value))
    assert client.get_run(run_id).data.metrics["shared"] == latest.value


@pytest.mark.slow
@pytest.mark.parametrize("context", ["spawn", "fork"], ids=["spawned", "forked-after-use"])
def test_8_processes_log_to_one_sqlite_file(context: str, sqlite_db: str, tmp_path: Path) -> None:
    run_id = _new_run(sqlite_db)
    _run_children(context, sqlite_db, run_id, workers=8, points=2000, tmp_path=tmp_path)
    _check_points(sqlite_db, run_id, workers=8, points=2000)


@pytest.mark.slow
@pytest.mark.parametrize("context", ["spawn", "fork"], ids=["spawned", "forked-after-use"])
def test_4_processes_log_to_one_postgres_database(context: str, postgres_db: str, tmp_path: Path) -> None:
    run_id = _new_run(postgres_db)
    _run_children(context, postgres_db, run_id, workers=4, points=2000, tmp_path=tmp_path)
    _check_points(postgres_db, run_id, workers=4, points=2000)


# -- SIGKILL in the middle of log_batch loops ------------------------------------------------------------

#: The writer: batch after batch of 200 points of its own key + a param + a tag, printing each
#: batch's number once ``log_batch`` has returned (that line is the acknowledgement).
_WRITER_SCRIPT = textwrap.dedent("""
    import sys, time
    from tracklet.entities import Metric, Param, RunTag
    from tracklet_sql.store import SqlStore
    uri, run_id, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = SqlStore(uri)
    while True:
        now = int(time.time() * 1000)
        store.log_batch(run_id, [Metric(f"b{batch}", float(i), now, i) for i in range(200)],
                        [Param(f"p{batch}", str(batch))], [RunTag(f"t{batch}", str(batch))])
        print(batch, flush=True)
        batch += 1
""")


def _kill_one_writer(uri: str, run_id: str, first_batch: int, rng: random.Random) -> list[int]:
    """Start a writer, SIGKILL it 50-400 ms after its first acknowledgement; the batches it acknowledged."""
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER_SCRIPT, uri, run_id, str(first_batch)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    try:
        assert writer.stdout is not None
        # unbuffered: readline takes just the first line, communicate() gets every later byte
        first = writer.stdout.readline()  # blocks until the first batch is acknowledged
        if not first:
            raise AssertionError(f"the writer died before acknowledging anything: {writer.stderr.read()!r}")
        time.sleep(rng.uniform(0.05, 0.4))
        writer.send_signal(signal.SIGKILL)
        rest, errors = writer.communicate(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == -signal.SIGKILL, f"the writer failed on its own: {errors.decode()[-2000:]}"
    lines = (first + rest).decode().split("\n")
    # a line cut by the kill has no newline after it: not an acknowledgement
    return [int(line) for line in lines[:-1]]


def _settle(uri: str, timeout: float = 60.0) -> None:
    """Wait until no other session on a PostgreSQL database is running a statement or
    holding a transaction open.

    A SIGKILLed writer's server process lives on for a moment: a COMMIT it had sent is
    still carried out. Reading before it ends could see the batch missing in one read and
    present in the next (two snapshots), which is the server finishing, not a torn batch.
    An idle session can change nothing: this process's own pooled connections (the client
    that made the run keeps its engine) stay idle, and are not waited for.
    """
    if not uri.startswith("postgresql"):
        return
    engine = make_engine(uri)
    try:
        deadline = time.monotonic() + timeout
        with engine.connect() as conn:
            while True:
                others = conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'"
                ).scalar_one()
                if not others or time.monotonic() > deadline:
                    return
                time.sleep(0.05)
    finally:
        engine.dispose()


def _check_batches(uri: str, run_id: str, batches: range, acknowledged: set[int]) -> None:
    """A new store opens the database; each batch is whole or absent; acknowledged ones are whole."""
    _settle(uri)
    store = SqlStore(uri)
    try:
        data = store.get_run(run_id).data
        present = {int(k[1:]) for k in data.metrics}
        assert {int(k[1:]) for k in data.params} == present, "params and metrics disagree on some batch"
        assert {int(k[1:]) for k in data.tags if k.startswith("t")} == present, "tags disagree"
        assert acknowledged <= present, f"acknowledged batches lost: {sorted(acknowledged - present)}"
        for batch in batches:
            history = store.get_metric_history(run_id, f"b{batch}")
            if batch in present:
                assert sorted(m.step for m in history) == list(range(200)), f"batch {batch} is partial"
                assert data.params[f"p{batch}"] == data.tags[f"t{batch}"] == str(batch)
            else:
                assert history == [], f"batch {batch} has {len(history)} points but no param"
    finally:
        store.close()


def _kill_schedule(default_seed: int | None = None) -> random.Random:
    """The kill schedule's generator, seeded from TRACKLET_TEST_KILL_SEED to replay a failure;
    the seed is printed, and pytest shows it beside a failure."""
    seed = int(os.environ.get("TRACKLET_TEST_KILL_SEED") or default_seed or random.randrange(2**32))
    print(f"kill schedule seed {seed}: replay with TRACKLET_TEST_KILL_SEED={seed}")
    return random.Random(seed)


def _kill_rounds(uri: str, rounds: int) -> None:
    run_id = _new_run(uri)
    rng = _kill_schedule()
    acknowledged: set[int] = set()
    next_batch = 0
    for _ in range(rounds):
        acked = _kill_one_writer(uri, run_id, next_batch, rng)
        assert acked and acked == list(range(next_batch, next_batch + len(acked)))
        acknowledged.update(acked)
        # the batch after the last acknowledged one may or may not have committed
        attempted = range(next_batch, acked[-1] + 2)
        _check_batches(uri, run_id, attempted, acknowledged)
        next_batch = attempted.stop
    _check_batches(uri, run_id, range(next_batch), acknowledged)


@pytest.mark.slow
def test_writer_killed_20_times_on_sqlite(sqlite_db: str) -> None:
    _kill_rounds(sqlite_db, rounds=20)


@pytest.mark.slow
def test_writer_killed_20_times_on_postgres(postgres_db: str) -> None:
    _kill_rounds(postgres_db, rounds=20)


# -- refused input changes no row ------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """A store on each database: a sqlite file, and the session's server databases when reachable."""
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    else:
        uri = request.getfixturevalue({"postgresql": "postgres_uri", "mysql": "mysql_uri"}[request.param])
    opened = SqlStore(uri, str(tmp_path / "artifacts"))
    yield opened
    opened.close()


def _rows(store: SqlStore) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every tracklet table, as text (NaN-safe), sorted."""
    with store.engine.connect() as conn:
        return {
            table.name: sorted(tuple(map(repr, row)) for row in conn.execute(sa.select(table)))
            for table in _schema.metadata.sorted_tables
        }


_NONFINITE = [("nan", math.nan), ("pos_inf", math.inf), ("neg_inf", -math.inf)]


def _nonfinite_metrics(step: int) -> list[Metric]:
    return [Metric(key, value, T0 + step, step) for key, value in _NONFINITE]


@pytest.fixture
def seeded(store: SqlStore) -> str:
    """A run holding a param, a tag and NaN/inf points, as refused calls must find it afterwards."""
    experiment_id = store.create_experiment(f"rel-{uuid.uuid4().hex[:8]}")
    run_id = store.create_run(experiment_id, "user", T0, [], "seeded").info.run_id
    store.log_batch(run_id, _nonfinite_metrics(0), [Param("lr", "0.1")], [RunTag("team", "a")])
    return run_id


_REFUSED: dict[str, tuple[Callable[[SqlStore, str], object], str]] = {
    "oversized-param": (
        lambda s, r: s.log_batch(r, _nonfinite_metrics(1), [Param("new", "1"), Param("big", "v" * 6001)], []),
        INVALID_PARAMETER_VALUE,
    ),
    "oversized-tag": (
        lambda s, r: s.log_batch(r, _nonfinite_metrics(1), [Param("new", "1")], [RunTag("big", "v" * 8001)]),
        INVALID_PARAMETER_VALUE,
    ),
    "bad-metric-key": (
        lambda s, r: s.log_batch(r, [*_nonfinite_metrics(1), Metric("../up", 1.0, T0, 1)], [], []),
        INVALID_PARAMETER_VALUE,
    ),
    "bad-param-key": (
        lambda s, r: s.log_batch(r, _nonfinite_metrics(1), [Param("a!b", "1")], []),
        INVALID_PARAMETER_VALUE,
    ),
    # refused inside the transaction, after the new param was inserted: the rollback must undo it
    "changed-param": (
        lambda s, r: s.log_batch(
            r, _nonfinite_metrics(1), [Param("new", "1"), Param("lr", "0.2")], [RunTag("t2", "x")]
        ),
        INVALID_PARAMETER_VALUE,
    ),
    "changed-param-alone": (lambda s, r: s.log_param(r, Param("lr", "0.3")), INVALID_PARAMETER_VALUE),
    "unknown-run": (
        lambda s, r: s.log_batch(uuid.uuid4().hex, _nonfinite_metrics(1), [Param("new", "1")], []),
        RESOURCE_DOES_NOT_EXIST,
    ),
    "unknown-run-single-metric": (
        lambda s, r: s.log_metric(uuid.uuid4().hex, Metric("nan", math.nan, T0, 1)),
        RESOURCE_DOES_NOT_EXIST,
    ),
}


@pytest.mark.parametrize("case", list(_REFUSED))
def test_refused_input_changes_no_row(store: SqlStore, seeded: str, case: str) -> None:
    call, code = _REFUSED[case]
    before_run, before_rows = run_state(store, seeded), _rows(store)
    with raises_code(code):
        call(store, seeded)
    assert run_state(store, seeded) == before_run
    assert _rows(store) == before_rows


def test_writes_to_a_deleted_run_change_no_row(store: SqlStore, seeded: str) -> None:
    store.delete_run(seeded)
    before = _rows(store)
    with raises_code(INVALID_PARAMETER_VALUE):
        store.log_batch(seeded, _nonfinite_metrics(1), [Param("new", "1")], [RunTag("t", "1")])
    assert _rows(store) == before


def test_nonfinite_points_round_trip_after_a_refused_batch(store: SqlStore, seeded: str) -> None:
    with raises_code(INVALID_PARAMETER_VALUE):
        store.log_batch(seeded, _nonfinite_metrics(1), [Param("lr", "0.2")], [])
    store.log_batch(seeded, _nonfinite_metrics(1), [Param("lr", "0.1")], [])
    store.log_batch(seeded, _nonfinite_metrics(1), [], [])  # re-sent: no duplicate
    metrics = store.get_run(seeded).data.metrics
    assert math.isnan(metrics["nan"]) and metrics["pos_inf"] == math.inf and metrics["neg_inf"] == -math.inf
    for key, value in _NONFINITE:
        history = store.get_metric_history(seeded, key)
        assert [m.step for m in history] == [0, 1]
        assert all(repr(m.value) == repr(value) for m in history)


def test_client_reports_mlflow_codes_and_changes_nothing(sqlite_db: str) -> None:
    """The same through the public client: its errors carry MLflow's codes."""
    client = tracklet.MlflowClient(sqlite_db)
    run_id = _new_run(sqlite_db)
    client.log_param(run_id, "lr", "0.1")
    client.log_metric(run_id, "loss", math.nan, timestamp=T0, step=0)
    reader = SqlStore(sqlite_db)
    before = run_state(reader, run_id)
    with raises_code(INVALID_PARAMETER_VALUE):
        client.log_param(run_id, "lr", "0.2")
    with raises_code(INVALID_PARAMETER_VALUE):
        client.log_batch(run_id, [Metric("loss", math.inf, T0, 1)], [Param("x", "v" * 6001)])
    with raises_code(INVALID_PARAMETER_VALUE):
        client.set_tag(run_id, "bad//key", "v")
    with raises_code(RESOURCE_DOES_NOT_EXIST):
        client.log_metric(uuid.uuid4().hex, "loss", 1.0)
    assert run_state(reader, run_id) == before
    reader.close()
