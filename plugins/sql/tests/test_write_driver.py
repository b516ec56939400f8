"""log_batch and create_run on the driver's own connection (sqlite3, psycopg pipelines).

These writes skip SQLAlchemy's execution layer (:mod:`tracklet_sql._write`): each test
checks that a refused call still changes nothing, that a run that does not exist is
refused by name (not as a foreign-key error), and that MySQL, which keeps SQLAlchemy's
path, behaves the same.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tracklet.entities import Metric, Param, RunTag
from tracklet.exceptions import TrackletException
from tracklet_sql._write import has_driver_path, missing_parent
from tracklet_sql.store import SqlStore


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'driver.db'}"
    else:
        uri = request.getfixturevalue({"postgresql": "postgres_uri", "mysql": "mysql_uri"}[request.param])
    s = SqlStore(uri, str(tmp_path / "artifacts"))
    yield s
    s.close()


def _snapshot(store: SqlStore, run_id: str) -> dict[str, object]:
    run = store.get_run(run_id)
    return {
        "metrics": dict(run.data.metrics),
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
        "name": run.info.run_name,
        "history": sorted((m.step, m.value) for m in store.get_metric_history(run_id, "m")),
    }


def test_the_fast_path_serves_sqlite_and_psycopg_only(store: SqlStore) -> None:
    assert has_driver_path(store.engine) == (store.dialect in ("sqlite", "postgresql"))


def test_a_batch_lands_whole(store: SqlStore) -> None:
    experiment_id = store.create_experiment("whole")
    run_id = store.create_run(experiment_id, "u", 1, [RunTag("t0", "v0")], "first").info.run_id
    store.log_batch(
        run_id,
        metrics=[Metric("m", 1.0, 5, 1), Metric("m", 3.0, 5, 0), Metric("n", float("nan"), 5, 0)],
        params=[Param("p", "1"), Param("q", "2")],
        tags=[RunTag("t1", "v1"), RunTag("mlflow.runName", "renamed")],
    )
    store.log_metric(run_id, Metric("m", 0.5, 4, 1))  # smaller than the latest: history only
    got = _snapshot(store, run_id)
    assert got["history"] == [(0, 3.0), (1, 0.5), (1, 1.0)]
    assert got["metrics"]["m"] == 1.0
    assert got["params"] == {"p": "1", "q": "2"}
    assert got["name"] == "renamed"
    assert {"t0": "v0", "t1": "v1"}.items() <= got["tags"].items()  # type: ignore[union-attr]


def test_a_changed_param_refuses_the_whole_batch(store: SqlStore) -> None:
    run_id = store.create_run(store.create_experiment("param"), None, 1, [], "r").info.run_id
    store.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)], params=[Param("p", "1")], tags=[])
    before = _snapshot(store, run_id)
    with pytest.raises(TrackletException, match="Changing param values is not allowed"):
        store.log_batch(
            run_id,
            metrics=[Metric("m", 9.0, 2, 7)],
            params=[Param("new", "x"), Param("p", "2")],
            tags=[RunTag("t", "v"), RunTag("mlflow.runName", "other")],
        )
    assert _snapshot(store, run_id) == before


def test_a_deleted_run_refuses_and_keeps_nothing(store: SqlStore) -> None:
    run_id = store.create_run(store.create_experiment("deleted"), None, 1, [], "r").info.run_id
    store.log_metric(run_id, Metric("m", 1.0, 1, 0))
    store.delete_run(run_id)
    for call in (
        lambda: store.log_metric(run_id, Metric("m", 2.0, 2, 1)),
        lambda: store.log_batch(run_id, [Metric("m", 2.0, 2, 1)], [Param("p", "1")], [RunTag("t", "v")]),
    ):
        with pytest.raises(TrackletException, match="must be in the 'active' state") as info:
            call()
        assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    store.restore_run(run_id)
    got = _snapshot(store, run_id)
    assert got["history"] == [(0, 1.0)] and got["params"] == {} and "t" not in got["tags"]  # type: ignore[operator]


@pytest.mark.parametrize("with_rows", [True, False])
def test_a_run_that_does_not_exist_is_refused_by_name(store: SqlStore, with_rows: bool) -> None:
    missing = "0" * 32
    metrics = [Metric("m", 1.0, 1, 0), Metric("k", 1.0, 1, 0)] if with_rows else []
    with pytest.raises(TrackletException, match="not found") as info:
        store.log_batch(missing, metrics, [Param("p", "1")] if with_rows else [], [])
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_create_run_refuses_a_missing_or_deleted_experiment(store: SqlStore) -> None:
    with pytest.raises(TrackletException) as info:
        store.create_run("123456", None, 1, [], "r")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    experiment_id = store.create_experiment("gone")
    store.delete_experiment(experiment_id)
    with pytest.raises(TrackletException):
        store.create_run(experiment_id, None, 1, [RunTag("t", "v")], "r")
    with store.engine.connect() as conn:
        runs = conn.execute(
            sa.select(sa.func.count()).where(store.schema.runs.c.experiment_id == int(experiment_id))
        ).scalar_one()
    assert runs == 0


def test_create_run_stores_its_tags_and_artifact_uri(store: SqlStore) -> None:
    experiment_id = store.create_experiment("tags")
    created = store.create_run(experiment_id, "me", 7, [RunTag("a", "1"), RunTag("b", "")], "named")
    run = store.get_run(created.info.run_id)
    assert run.info == created.info
    assert {"a": "1", "b": ""}.items() <= run.data.tags.items()
    assert run.info.artifact_uri.endswith(f"{created.info.run_id}/artifacts")


def test_a_foreign_key_failure_is_told_from_other_errors() -> None:
    connection = sqlite3.connect(":memory:")
    connection.executescript(
        "PRAGMA foreign_keys=ON; CREATE TABLE p (id TEXT PRIMARY KEY);"
        "CREATE TABLE c (id TEXT PRIMARY KEY REFERENCES p (id));"
    )
    with pytest.raises(sqlite3.IntegrityError) as fk:
        connection.execute("INSERT INTO c VALUES ('x')")
    connection.execute("INSERT INTO p VALUES ('x')")
    with pytest.raises(sqlite3.IntegrityError) as unique:
        connection.execute("INSERT INTO p VALUES ('x')")
    assert missing_parent(fk.value) and not missing_parent(unique.value)
