"""Async logging (issue 16): ``synchronous=False`` on the client and fluent logging calls,
on every store, as MLflow 3.17.2 behaves where code can see it.

What MLflow does (read in its source and observed in a probe, 04:10 UTC):

* ``MlflowClient.log_metric/set_tag/log_batch(..., synchronous=False)`` return a
  ``RunOperations``; ``log_param`` too (synchronously it returns the value given);
  ``log_batch`` with nothing to log returns ``None`` either way.
* Fluent ``log_metric/log_metrics/log_params/set_tag/set_tags`` return a ``RunOperations``
  when async and ``None`` otherwise; ``log_param`` returns the value when synchronous.
* ``synchronous=None`` means async when ``MLFLOW_ENABLE_ASYNC_LOGGING`` is true, read at
  each call; ``mlflow.config.enable_async_logging(enable)`` sets it (so ``False`` wins over
  the variable being true); an explicit ``synchronous=True`` always wins.
* ``end_run`` drains the queue before terminating the run.

Where tracklet deliberately differs (issue 16 and /tmp/h/spec.md): bad input raises at
the call with the synchronous path's ``INVALID_PARAMETER_VALUE`` (MLflow queues it and
fails in ``wait()`` with a generic ``INTERNAL_ERROR``), and a store's refusal comes out of
``wait()`` with the store's own error code (MLflow wraps it in ``INTERNAL_ERROR``).

The ``tracking_uri`` fixture here extends ``conftest.py``'s backends (file, memory,
sqlite, http with its default spool) with http without the spool, sqlite through the
write-ahead spool, and one PostgreSQL and one MariaDB/MySQL database; each of these is
one store for the session, shared by the tests as the http server is: every test makes
its own runs and looks only at them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tracklet
from tracklet import fluent, plugins
from tracklet.entities import Metric, Param, RunTag
from tracklet.exceptions import MlflowException, TrackletException

ASYNC_SWITCHES = ("MLFLOW_ENABLE_ASYNC_LOGGING", "TRACKLET_ENABLE_ASYNC_LOGGING")
SERVER_DATABASES = {
    "postgresql": os.environ.get("TRACKLET_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("TRACKLET_TEST_MYSQL_URI", "mysql://root@127.0.0.1:3306/test"),
}


# -- stores ------------------------------------------------------------------------------------


def _server_database(kind: str) -> Iterator[str]:
    """A fresh database on the ``kind`` server for the session (dropped after), or a skip
    saying how to enable it (a failure when ``TRACKLET_TEST_REQUIRE_SERVERS`` is set)."""
    import sqlalchemy as sa

    from tracklet_sql._engine import make_engine

    try:
        admin = make_engine(SERVER_DATABASES[kind]).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not available here"
        reason = f"{kind} is not reachable ({type(exc).__name__}); set TRACKLET_TEST_{kind.upper()}_URI"
        if os.environ.get("TRACKLET_TEST_REQUIRE_SERVERS"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"tracklet_async_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        url = sa.engine.make_url(SERVER_DATABASES[kind]).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        tracklet.flush_async_logging()
        with admin.connect() as conn:
            force = " WITH (FORCE)" if kind == "postgresql" else ""
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        admin.dispose()


@pytest.fixture(scope="session")
def postgresql_database() -> Iterator[str]:
    yield from _server_database("postgresql")


@pytest.fixture(scope="session")
def mysql_database() -> Iterator[str]:
    yield from _server_database("mysql")


@pytest.fixture(scope="session")
def async_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``XDG_CACHE_HOME`` for the session, so the default spool (on for http) is one
    directory: a spool is drained by a separate process, started once per spool and URI."""
    return tmp_path_factory.mktemp("async-cache")


@pytest.fixture(scope="session")
def spooled_sqlite(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """One sqlite store and one spool directory for the session's ``sqlite-spool`` tests."""
    root = tmp_path_factory.mktemp("sqlite-spool")
    return f"sqlite:///{root / 'mlflow.db'}", str(root / "spool")


@pytest.fixture(
    params=["file", "memory", "sqlite", "sqlite-spool", "http", "http-no-spool", "postgresql", "mysql"]
)
def tracking_uri(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """conftest.py's ``tracking_uri`` plus the two server databases and sqlite with the
    spool on (``TRACKLET_ASYNC_SPOOL``; one store for the session, like http's); the async
    switches and the spool settings cleared otherwise."""
    for name in (
        "TRACKLET_TRACKING_URI",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_EXPERIMENT_NAME",
        "MLFLOW_EXPERIMENT_ID",
        "TRACKLET_EXPERIMENT_NAME",
        "TRACKLET_EXPERIMENT_ID",
        "TRACKLET_ASYNC_SPOOL",
        "TRACKLET_OFFLINE",
        *ASYNC_SWITCHES,
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(request.getfixturevalue("async_cache_home")))
    backend = request.param
    if backend == "file":
        uri = str(tmp_path / "mlruns")
    elif backend == "sqlite":
        uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    elif backend == "sqlite-spool":  # every async call goes through the write-ahead spool
        uri, spool = request.getfixturevalue("spooled_sqlite")
        monkeypatch.setenv("TRACKLET_ASYNC_SPOOL", spool)
    elif backend == "http":  # the spool is on by default for http(s) URIs
        uri = str(request.getfixturevalue("http_server"))
    elif backend == "http-no-spool":  # the in-memory queue to a server
        monkeypatch.setenv("TRACKLET_ASYNC_SPOOL", "off")
        uri = str(request.getfixturevalue("http_server"))
    elif backend in SERVER_DATABASES:
        uri = str(request.getfixturevalue(f"{backend}_database"))
    else:
        if "memory" not in plugins.installed_schemes("tracking"):
            pytest.skip("tracklet-example (memory://) is not installed")
        uri = f"memory://{uuid.uuid4().hex}"
    monkeypatch.chdir(tmp_path)
    fluent._active_experiment_id = None
    tracklet.set_tracking_uri(uri)
    yield uri
    fluent._end_all_runs()
    tracklet.flush_async_logging()
    _forget_async_switch()
    fluent._active_experiment_id = None
    tracklet.set_tracking_uri(None)


def _forget_async_switch() -> None:
    """Undo ``tracklet.config.enable_async_logging`` (the environment is monkeypatched)."""
    import tracklet.config

    tracklet.config.enable_async_logging(False)
    os.environ.pop("MLFLOW_ENABLE_ASYNC_LOGGING", None)
    os.environ.pop("TRACKLET_ENABLE_ASYNC_LOGGING", None)


# -- helpers -----------------------------------------------------------------------------------


def new_run(client: Any) -> str:
    """A fresh run in a fresh experiment (the http and server-database stores are shared)."""
    experiment_id = client.create_experiment(f"async-{uuid.uuid4().hex}")
    return str(client.create_run(experiment_id).info.run_id)


def history(client: Any, run_id: str, key: str) -> list[tuple[int, float, int]]:
    """(step, value, timestamp) of every stored point of ``key``, sorted."""
    return sorted((m.step, m.value, m.timestamp) for m in client.get_metric_history(run_id, key))


def user_tags(run: Any) -> dict[str, str]:
    return {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}


def run_operations_class() -> type:
    from tracklet.utils.async_logging.run_operations import RunOperations

    return RunOperations


def refusal(call: Callable[[], Any]) -> TrackletException:
    with pytest.raises(TrackletException) as caught:
        call()
    return caught.value


# -- the seed examples (003: MlflowClient.log_metric and log_batch) ---------------------------


def test_seed_log_metric_example_async_call_is_stored_after_wait(client):
    run = client.create_run("0")
    client.log_metric(run.info.run_id, "m", 1.5)
    client.set_terminated(run.info.run_id)
    run = client.get_run(run.info.run_id)
    assert run.data.metrics == {"m": 1.5} and run.info.status == "FINISHED"
    # To log metric in async fashion
    operations = client.log_metric(run.info.run_id, "m", 1.5, synchronous=False)
    assert isinstance(operations, run_operations_class())
    assert operations.wait() is None
    assert [value for _, value, _ in history(client, run.info.run_id, "m")] == [1.5, 1.5]


def test_seed_log_batch_example_then_async_metric(client):
    import time

    timestamp = int(time.time() * 1000)
    run = client.create_run("0")
    client.log_batch(
        run.info.run_id,
        metrics=[Metric("m", 1.5, timestamp, 1)],
        params=[Param("p", "p")],
        tags=[RunTag("t", "t")],
    )
    client.set_terminated(run.info.run_id)
    run = client.get_run(run.info.run_id)
    assert (run.data.params, run.data.metrics, user_tags(run)) == ({"p": "p"}, {"m": 1.5}, {"t": "t"})
    operations = client.log_metric(run.info.run_id, "m", 1.5, synchronous=False)
    operations.wait()
    assert len(client.get_metric_history(run.info.run_id, "m")) == 2
    assert client.get_run(run.info.run_id).info.status == "FINISHED"


# -- return types ------------------------------------------------------------------------------


def test_client_async_calls_return_run_operations_and_store_after_wait(client):
    RunOperations = run_operations_class()
    run_id = new_run(client)
    returned = [
        client.log_metric(run_id, "m", 2.0, timestamp=7, step=3, synchronous=False),
        client.log_param(run_id, "p", 5, synchronous=False),
        client.set_tag(run_id, "t", "v", synchronous=False),
        client.log_batch(
            run_id,
            metrics=[Metric("b", 1.0, 8, 0)],
            params=[Param("bp", "x")],
            tags=[RunTag("bt", "y")],
            synchronous=False,
        ),
    ]
    assert [type(r) for r in returned] == [RunOperations] * 4
    for operations in returned:
        assert operations.wait() is None
    run = client.get_run(run_id)
    assert run.data.params == {"p": "5", "bp": "x"}
    assert user_tags(run) == {"t": "v", "bt": "y"}
    assert history(client, run_id, "m") == [(3, 2.0, 7)] and history(client, run_id, "b") == [(0, 1.0, 8)]


@pytest.mark.parametrize("synchronous", [True, None])
def test_client_synchronous_returns_unchanged(client, synchronous):
    run_id = new_run(client)
    assert client.log_metric(run_id, "m", 1.0, synchronous=synchronous) is None
    value = {"lr": 3}
    assert client.log_param(run_id, "p", value, synchronous=synchronous) is value
    assert client.set_tag(run_id, "t", "v", synchronous=synchronous) is None
    assert client.log_batch(run_id, metrics=[Metric("b", 1.0, 1, 0)], synchronous=synchronous) is None
    # stored by the time the call returned: no flush
    run = client.get_run(run_id)
    assert run.data.params == {"p": "{'lr': 3}"} and run.data.metrics.keys() == {"m", "b"}


def test_client_log_batch_with_nothing_returns_none_even_async(client):
    run_id = new_run(client)
    assert client.log_batch(run_id, synchronous=False) is None
    assert client.log_batch(run_id, [], [], [], synchronous=False) is None


def test_fluent_return_types_match_mlflow(tracking_uri):
    RunOperations = run_operations_class()
    with tracklet.start_run() as run:
        asynchronous = {
            "log_metric": tracklet.log_metric("m", 1.0, step=0, synchronous=False),
            "log_metrics": tracklet.log_metrics({"a": 1.0, "b": 2.0}, step=0, synchronous=False),
            "log_param": tracklet.log_param("p", 1, synchronous=False),
            "log_params": tracklet.log_params({"q": 2, "r": 3}, synchronous=False),
            "set_tag": tracklet.set_tag("t", "v", synchronous=False),
            "set_tags": tracklet.set_tags({"u": "1", "w": "2"}, synchronous=False),
        }
        assert {name: type(r) for name, r in asynchronous.items()} == dict.fromkeys(
            asynchronous, RunOperations
        )
        value = [1, 2]
        synchronous = {
            "log_metric": tracklet.log_metric("m", 2.0, step=1, synchronous=True),
            "log_metrics": tracklet.log_metrics({"a": 3.0}, step=1, synchronous=True),
            "log_param": tracklet.log_param("p2", value, synchronous=True),
            "log_params": tracklet.log_params({"q2": 2}, synchronous=True),
            "set_tag": tracklet.set_tag("t2", "v", synchronous=True),
            "set_tags": tracklet.set_tags({"u2": "1"}, synchronous=True),
        }
        assert synchronous == dict.fromkeys(synchronous) | {"log_param": value}
        assert synchronous["log_param"] is value
        for operations in asynchronous.values():
            assert operations.wait() is None
    got = tracklet.MlflowClient().get_run(run.info.run_id)
    assert got.data.params == {"p": "1", "q": "2", "r": "3", "p2": "[1, 2]", "q2": "2"}
    assert got.data.metrics == {"m": 2.0, "a": 3.0, "b": 2.0}
    assert user_tags(got) == {"t": "v", "u": "1", "w": "2", "t2": "v", "u2": "1"}


def test_run_operations_import_paths():
    import tracklet.async_logging as package
    import tracklet.utils.async_logging.run_operations as mlflows_path

    assert package.RunOperations is mlflows_path.RunOperations
    assert package.get_combined_run_operations is mlflows_path.get_combined_run_operations
    assert tracklet.RunOperations is mlflows_path.RunOperations  # mlflow.RunOperations


def test_get_combined_run_operations_as_mlflows(client):
    """MLflow's: an empty list gives None, one element gives that element, more give one
    RunOperations waiting for them all."""
    from tracklet.utils.async_logging.run_operations import RunOperations, get_combined_run_operations

    assert RunOperations(None).wait() is None and RunOperations([]).wait() is None
    assert get_combined_run_operations([]) is None
    run_id = new_run(client)
    first = client.log_metric(run_id, "m", 1.0, timestamp=1, step=0, synchronous=False)
    assert get_combined_run_operations([first]) is first
    second = client.log_metric(run_id, "m", 2.0, timestamp=2, step=1, synchronous=False)
    both = get_combined_run_operations([first, second])
    assert isinstance(both, RunOperations) and both.wait() is None
    assert history(client, run_id, "m") == [(0, 1.0, 1), (1, 2.0, 2)]


def test_run_operations_over_plain_futures_as_mlflow_builds_them():
    """MLflow's RunOperations holds ``concurrent.futures`` futures; code building one that way
    (as MLflow's own integrations do) waits for them and sees a failure raised."""
    from concurrent.futures import Future

    RunOperations = run_operations_class()
    done: Future[None] = Future()
    done.set_result(None)
    assert RunOperations([done]).wait() is None
    failed: Future[None] = Future()
    failed.set_exception(ValueError("boom"))
    with pytest.raises(MlflowException, match="boom"):
        RunOperations([done, failed]).wait()


# -- the switches: environment and tracklet.config ---------------------------------------------


@pytest.mark.parametrize("variable", ASYNC_SWITCHES)
@pytest.mark.parametrize("setting", ["true", "TRUE", "1"])
def test_environment_switch_makes_none_async(client, monkeypatch, variable, setting):
    RunOperations = run_operations_class()
    run_id = new_run(client)
    monkeypatch.setenv(variable, setting)
    returned = [
        client.log_metric(run_id, "m", 1.0, timestamp=1, step=0),
        client.log_param(run_id, "p", 1),
        client.set_tag(run_id, "t", "v"),
        client.log_batch(run_id, metrics=[Metric("b", 1.0, 1, 0)]),
    ]
    assert [type(r) for r in returned] == [RunOperations] * 4
    # an explicit synchronous=True still wins
    assert client.log_param(run_id, "p2", 2, synchronous=True) == 2
    assert client.get_run(run_id).data.params["p2"] == "2"
    with tracklet.start_run():
        assert isinstance(tracklet.log_metric("f", 1.0), RunOperations)
        assert isinstance(tracklet.log_param("fp", 1), RunOperations)
    tracklet.flush_async_logging()
    run = client.get_run(run_id)
    assert run.data.params == {"p": "1", "p2": "2"} and run.data.metrics == {"m": 1.0, "b": 1.0}


@pytest.mark.parametrize("variable", ASYNC_SWITCHES)
def test_environment_switch_false_keeps_synchronous(client, monkeypatch, variable):
    monkeypatch.setenv(variable, "false")
    run_id = new_run(client)
    assert client.log_metric(run_id, "m", 1.0) is None
    assert client.log_param(run_id, "p", 1) == 1


def test_config_enable_async_logging(client, monkeypatch):
    import tracklet.config

    RunOperations = run_operations_class()
    run_id = new_run(client)
    tracklet.config.enable_async_logging()
    from tracklet.async_logging import is_async_logging_enabled

    assert is_async_logging_enabled() is True
    assert isinstance(client.log_metric(run_id, "m", 1.0, timestamp=1, step=0), RunOperations)
    assert isinstance(client.log_param(run_id, "p", 1), RunOperations)
    tracklet.config.enable_async_logging(False)
    assert is_async_logging_enabled() is False
    assert client.log_param(run_id, "q", 2) == 2
    # as MLflow's (which sets the variable), switching off wins over the variable being on
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "true")
    tracklet.config.enable_async_logging(False)
    assert client.log_metric(run_id, "n", 1.0) is None
    tracklet.config.enable_async_logging(True)
    assert isinstance(client.set_tag(run_id, "t", "v"), RunOperations)
    tracklet.flush_async_logging()
    run = client.get_run(run_id)
    assert run.data.params == {"p": "1", "q": "2"} and user_tags(run) == {"t": "v"}


# -- flush, end_run, ordering ------------------------------------------------------------------


def test_flush_async_logging_makes_everything_visible(client):
    run_id = new_run(client)
    for step in range(300):
        client.log_metric(
            run_id, "loss", 1.0 / (step + 1), timestamp=10_000 + step, step=step, synchronous=False
        )
    for i in range(20):
        client.log_param(run_id, f"p{i}", i, synchronous=False)
        client.set_tag(run_id, f"t{i}", i, synchronous=False)
    assert tracklet.flush_async_logging() is None
    run = client.get_run(run_id)
    assert run.data.params == {f"p{i}": str(i) for i in range(20)}
    assert user_tags(run) == {f"t{i}": str(i) for i in range(20)}
    assert history(client, run_id, "loss") == [(s, 1.0 / (s + 1), 10_000 + s) for s in range(300)]
    assert run.data.metrics["loss"] == 1.0 / 300


def test_end_run_flushes_before_terminating(tracking_uri):
    tracklet.start_run()
    run_id = tracklet.active_run().info.run_id
    for step in range(200):
        tracklet.log_metric("loss", float(step), step=step, synchronous=False)
    tracklet.log_param("lr", 0.1, synchronous=False)
    tracklet.set_tag("phase", "train", synchronous=False)
    tracklet.end_run()
    client = tracklet.MlflowClient()
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"loss": 199.0}
    assert [(s, v) for s, v, _ in history(client, run_id, "loss")] == [(s, float(s)) for s in range(200)]
    assert run.data.params == {"lr": "0.1"} and user_tags(run)["phase"] == "train"


def test_client_set_terminated_drains_the_runs_queued_calls_first(client):
    """MLflow's ``set_terminated`` shuts its async queue down (draining it) before it ends
    the run, so the seed examples' pattern (log, set_terminated, get_run) shows everything."""
    run_id = new_run(client)
    for step in range(1000):
        client.log_metric(run_id, "m", float(step), timestamp=step, step=step, synchronous=False)
    client.log_param(run_id, "p", "1", synchronous=False)
    client.set_tag(run_id, "t", "v", synchronous=False)
    client.set_terminated(run_id, status="KILLED")
    run = client.get_run(run_id)
    assert run.info.status == "KILLED" and run.data.metrics == {"m": 999.0}
    assert run.data.params == {"p": "1"} and user_tags(run) == {"t": "v"}
    assert len(client.get_metric_history(run_id, "m")) == 1000


def test_context_manager_exit_flushes_and_failure_status_lands(tracking_uri):
    with tracklet.start_run() as run:
        tracklet.log_metrics({"a": 1.0, "b": 2.0}, step=0, synchronous=False)
    with pytest.raises(RuntimeError), tracklet.start_run() as failed:
        tracklet.log_metric("c", 3.0, synchronous=False)
        raise RuntimeError("training crashed")
    client = tracklet.MlflowClient()
    done = client.get_run(run.info.run_id)
    assert done.info.status == "FINISHED" and done.data.metrics == {"a": 1.0, "b": 2.0}
    crashed = client.get_run(failed.info.run_id)
    assert crashed.info.status == "FAILED" and crashed.data.metrics == {"c": 3.0}


def test_nested_runs_each_end_run_flushes_its_own_data(tracking_uri):
    with tracklet.start_run() as outer:
        tracklet.log_metric("outer", 1.0, synchronous=False)
        with tracklet.start_run(nested=True) as inner:
            for step in range(50):
                tracklet.log_metric("inner", float(step), step=step, synchronous=False)
        client = tracklet.MlflowClient()
        finished = client.get_run(inner.info.run_id)
        assert finished.info.status == "FINISHED" and finished.data.metrics == {"inner": 49.0}
        tracklet.log_param("after_inner", "yes", synchronous=False)
    done = client.get_run(outer.info.run_id)
    assert done.data.metrics == {"outer": 1.0} and done.data.params == {"after_inner": "yes"}


def test_fluent_async_to_another_run_by_id(tracking_uri):
    client = tracklet.MlflowClient()
    other = new_run(client)
    with tracklet.start_run() as active:
        operations = [
            tracklet.log_metric("m", 1.0, run_id=other, synchronous=False),
            tracklet.log_metrics({"a": 2.0}, run_id=other, synchronous=False),
            tracklet.log_params({"p": 1}, run_id=other, synchronous=False),
        ]
        for op in operations:
            assert op.wait() is None
    assert client.get_run(other).data.metrics == {"m": 1.0, "a": 2.0}
    assert client.get_run(other).data.params == {"p": "1"}
    assert client.get_run(active.info.run_id).data.metrics == {}


def test_last_write_wins_for_tags_and_latest_metric(client):
    run_id = new_run(client)
    for i in range(50):
        client.set_tag(run_id, "phase", f"v{i}", synchronous=False)
        client.log_metric(run_id, "m", float(i), timestamp=1000 + i, step=i, synchronous=False)
    client.set_tag(run_id, "twice", "first", synchronous=False)
    client.set_tag(run_id, "twice", "second", synchronous=False)
    same = [client.log_param(run_id, "p", "same", synchronous=False) for _ in range(2)]
    for operations in same:
        operations.wait()  # the same value twice is no change of a param
    tracklet.flush_async_logging()
    run = client.get_run(run_id)
    assert user_tags(run) == {"phase": "v49", "twice": "second"}
    assert run.data.metrics == {"m": 49.0} and run.data.params == {"p": "same"}
    assert len(client.get_metric_history(run_id, "m")) == 50


# -- bad input: refused at the call, nothing queued --------------------------------------------

# (name, call(client, run_id, synchronous)); MLflow 3.17.2's synchronous path refuses each
# of these with INVALID_PARAMETER_VALUE, except "param_too_long" (MLflow truncates; tracklet
# refuses on its synchronous path, docs/plugin-authors.md), so the async path must too.
BAD_INPUT: list[tuple[str, Callable[[Any, str, bool], Any]]] = [
    ("metric_key_bang", lambda c, r, s: c.log_metric(r, "a!b", 1.0, timestamp=1, synchronous=s)),
    ("metric_key_dotdot", lambda c, r, s: c.log_metric(r, "../x", 1.0, timestamp=1, synchronous=s)),
    ("metric_key_empty", lambda c, r, s: c.log_metric(r, "", 1.0, timestamp=1, synchronous=s)),
    ("metric_key_none", lambda c, r, s: c.log_metric(r, None, 1.0, timestamp=1, synchronous=s)),
    ("metric_value_text", lambda c, r, s: c.log_metric(r, "m", "abc", timestamp=1, synchronous=s)),
    ("metric_value_none", lambda c, r, s: c.log_metric(r, "m", None, timestamp=1, synchronous=s)),
    ("metric_step_text", lambda c, r, s: c.log_metric(r, "m", 1.0, timestamp=1, step="x", synchronous=s)),
    ("metric_timestamp_text", lambda c, r, s: c.log_metric(r, "m", 1.0, timestamp="x", synchronous=s)),
    ("param_key_bang", lambda c, r, s: c.log_param(r, "a!b", "1", synchronous=s)),
    ("param_too_long", lambda c, r, s: c.log_param(r, "p", "x" * 6001, synchronous=s)),
    ("tag_key_bang", lambda c, r, s: c.set_tag(r, "a!b", "1", synchronous=s)),
    ("run_id_path", lambda c, r, s: c.log_metric("../etc", "m", 1.0, timestamp=1, synchronous=s)),
    ("run_id_empty", lambda c, r, s: c.log_param("", "p", "1", synchronous=s)),
    (
        "batch_metric_key",
        lambda c, r, s: c.log_batch(
            r, metrics=[Metric("ok", 1.0, 1, 0), Metric("a!b", 1.0, 1, 0)], synchronous=s
        ),
    ),
    (
        "batch_param_key",
        lambda c, r, s: c.log_batch(r, params=[Param("ok", "1"), Param("../p", "1")], synchronous=s),
    ),
]


@pytest.mark.parametrize("name,call", BAD_INPUT, ids=[name for name, _ in BAD_INPUT])
def test_bad_input_refused_at_the_call_as_synchronously(client, name, call):
    run_id = new_run(client)
    synchronous = refusal(lambda: call(client, run_id, True))
    asynchronous = refusal(lambda: call(client, run_id, False))
    assert asynchronous.error_code == "INVALID_PARAMETER_VALUE"
    assert (asynchronous.error_code, asynchronous.message) == (synchronous.error_code, synchronous.message)
    tracklet.flush_async_logging()
    run = client.get_run(run_id)
    assert (run.data.metrics, run.data.params, user_tags(run)) == ({}, {}, {})
    # the queue is fine after a refusal
    client.log_metric(run_id, "after", 1.0, timestamp=1, synchronous=False).wait()
    assert client.get_run(run_id).data.metrics == {"after": 1.0}


# Values at the edge of what a store takes: the async path must accept what the synchronous
# path accepts (numpy scalars from a training loop, NaN, ±inf, colons, long keys), refuse
# what it refuses (tracklet refuses some values MLflow converts or truncates), and store the
# same thing. (name, call(client, run_id, synchronous))
BORDERLINE: list[tuple[str, Callable[[Any, str, bool], Any]]] = [
    (
        "np_float32",
        lambda c, r, s: c.log_metric(r, "np32", np.float32(1.5), timestamp=1, step=0, synchronous=s),
    ),
    (
        "np_float64",
        lambda c, r, s: c.log_metric(r, "np64", np.float64(2.5), timestamp=1, step=0, synchronous=s),
    ),
    ("np_int_value", lambda c, r, s: c.log_metric(r, "npi", np.int64(3), timestamp=1, step=0, synchronous=s)),
    (
        "np_int_step_timestamp",
        lambda c, r, s: c.log_metric(r, "nps", 1.0, timestamp=np.int64(5), step=np.int64(4), synchronous=s),
    ),
    ("int_value", lambda c, r, s: c.log_metric(r, "int", 7, timestamp=1, step=0, synchronous=s)),
    ("big_int_value", lambda c, r, s: c.log_metric(r, "bigint", 2**70, timestamp=1, step=0, synchronous=s)),
    ("nan", lambda c, r, s: c.log_metric(r, "nan", float("nan"), timestamp=1, step=0, synchronous=s)),
    ("inf", lambda c, r, s: c.log_metric(r, "inf", float("inf"), timestamp=1, step=0, synchronous=s)),
    ("minus_inf", lambda c, r, s: c.log_metric(r, "minf", float("-inf"), timestamp=1, step=0, synchronous=s)),
    ("huge", lambda c, r, s: c.log_metric(r, "huge", 1e308, timestamp=1, step=0, synchronous=s)),
    ("negative_step", lambda c, r, s: c.log_metric(r, "negstep", 1.0, timestamp=1, step=-3, synchronous=s)),
    ("max_step", lambda c, r, s: c.log_metric(r, "maxstep", 1.0, timestamp=1, step=2**63 - 1, synchronous=s)),
    ("step_overflow", lambda c, r, s: c.log_metric(r, "ovstep", 1.0, timestamp=1, step=2**63, synchronous=s)),
    ("negative_timestamp", lambda c, r, s: c.log_metric(r, "negts", 1.0, timestamp=-1, synchronous=s)),
    ("text_number", lambda c, r, s: c.log_metric(r, "text", "1.5", timestamp=1, step=0, synchronous=s)),
    ("bool_value", lambda c, r, s: c.log_metric(r, "bool", True, timestamp=1, step=0, synchronous=s)),
    ("float_step", lambda c, r, s: c.log_metric(r, "fstep", 1.0, timestamp=1, step=1.5, synchronous=s)),
    ("colon_key", lambda c, r, s: c.log_metric(r, "eval:loss/top-1 x.y", 1.0, timestamp=1, synchronous=s)),
    ("key_250", lambda c, r, s: c.log_metric(r, "k" * 250, 1.0, timestamp=1, synchronous=s)),
    ("key_251", lambda c, r, s: c.log_metric(r, "k" * 251, 1.0, timestamp=1, synchronous=s)),
    ("unicode_key", lambda c, r, s: c.log_param(r, "größe", "1", synchronous=s)),
    ("param_none", lambda c, r, s: c.log_param(r, "none", None, synchronous=s)),
    ("param_6000", lambda c, r, s: c.log_param(r, "p6000", "x" * 6000, synchronous=s)),
    ("param_unicode", lambda c, r, s: c.log_param(r, "uni", "ü→😀\t\n", synchronous=s)),
    ("param_empty", lambda c, r, s: c.log_param(r, "empty", "", synchronous=s)),
    ("tag_none", lambda c, r, s: c.set_tag(r, "tnone", None, synchronous=s)),
    ("tag_8000", lambda c, r, s: c.set_tag(r, "t8000", "y" * 8000, synchronous=s)),
    ("tag_8001", lambda c, r, s: c.set_tag(r, "t8001", "y" * 8001, synchronous=s)),
    ("tag_number", lambda c, r, s: c.set_tag(r, "tnum", 3.25, synchronous=s)),
    (
        "batch_duplicate_param_same_value",
        lambda c, r, s: c.log_batch(r, params=[Param("dup", "1"), Param("dup", "1")], synchronous=s),
    ),
    (
        "batch_duplicate_param_other_value",
        lambda c, r, s: c.log_batch(r, params=[Param("dup2", "1"), Param("dup2", "2")], synchronous=s),
    ),
    (
        "batch_duplicate_tag",
        lambda c, r, s: c.log_batch(r, tags=[RunTag("dupt", "1"), RunTag("dupt", "2")], synchronous=s),
    ),
]


def _outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        operations = call()
        if operations is not None and hasattr(operations, "wait"):
            operations.wait()
    except TrackletException as error:
        return ("refused", error.error_code, error.message)
    return ("accepted",)


def _stored(client: Any, run_id: str) -> dict[str, Any]:
    run = client.get_run(run_id)
    return {
        "params": run.data.params,
        "tags": user_tags(run),
        "history": {
            key: sorted((m.step, repr(m.value), m.timestamp) for m in client.get_metric_history(run_id, key))
            for key in run.data.metrics
        },
    }


@pytest.mark.parametrize("name,call", BORDERLINE, ids=[name for name, _ in BORDERLINE])
def test_borderline_values_same_outcome_as_synchronously(client, name, call):
    synchronous_run, asynchronous_run = new_run(client), new_run(client)
    synchronous = _outcome(lambda: call(client, synchronous_run, True))
    asynchronous = _outcome(lambda: call(client, asynchronous_run, False))
    assert asynchronous == synchronous
    tracklet.flush_async_logging()
    assert _stored(client, asynchronous_run) == _stored(client, synchronous_run)


def test_fluent_bad_input_refused_at_the_call(tracking_uri):
    with tracklet.start_run() as run:
        assert refusal(lambda: tracklet.log_metric("a!b", 1.0, synchronous=False)).error_code == (
            "INVALID_PARAMETER_VALUE"
        )
        assert refusal(lambda: tracklet.log_metrics({"m": "abc"}, synchronous=False)).error_code == (
            "INVALID_PARAMETER_VALUE"
        )
        assert refusal(lambda: tracklet.log_params({"../p": 1}, synchronous=False)).error_code == (
            "INVALID_PARAMETER_VALUE"
        )
        assert refusal(lambda: tracklet.set_tags({"a!b": 1}, synchronous=False)).error_code == (
            "INVALID_PARAMETER_VALUE"
        )
    got = tracklet.MlflowClient().get_run(run.info.run_id)
    assert (got.data.metrics, got.data.params, user_tags(got)) == ({}, {}, {})


# -- store errors: in wait(), with the store's code; the rest lands ---------------------------


def test_store_errors_surface_in_wait_and_the_rest_lands(client):
    run_id = new_run(client)
    deleted = new_run(client)
    client.delete_run(deleted)
    client.log_param(run_id, "p", "1")
    missing_run = uuid.uuid4().hex
    ok = [client.log_metric(run_id, "m", 1.0, timestamp=1, step=0, synchronous=False)]
    changed = client.log_param(run_id, "p", "2", synchronous=False)
    ok.append(client.set_tag(run_id, "t", "v", synchronous=False))
    unknown = client.log_metric(missing_run, "m", 1.0, timestamp=1, synchronous=False)
    ok.append(
        client.log_batch(
            run_id, metrics=[Metric("m", 2.0, 2, 1)], params=[Param("q", "x")], synchronous=False
        )
    )
    to_deleted = client.log_metric(deleted, "m", 1.0, timestamp=1, synchronous=False)
    ok.append(client.log_metric(run_id, "m", 3.0, timestamp=3, step=2, synchronous=False))

    expected = {
        "changed": (changed, "INVALID_PARAMETER_VALUE"),
        "unknown": (unknown, "RESOURCE_DOES_NOT_EXIST"),
        "to_deleted": (to_deleted, "INVALID_PARAMETER_VALUE"),
    }
    seen = {}
    for name, (operations, _) in expected.items():
        error = refusal(operations.wait)
        assert isinstance(error, MlflowException)
        seen[name] = error.error_code
    assert seen == {name: code for name, (_, code) in expected.items()}
    for operations in ok:
        assert operations.wait() is None
    run = client.get_run(run_id)
    assert run.data.params == {"p": "1", "q": "x"} and user_tags(run) == {"t": "v"}
    assert history(client, run_id, "m") == [(0, 1.0, 1), (1, 2.0, 2), (2, 3.0, 3)]
    assert client.get_run(deleted).data.metrics == {}


def test_a_failed_operation_raises_at_every_wait(client):
    """As MLflow's (a future keeps its exception): waiting again, or waiting for a
    combination holding the failed operation, raises again."""
    from tracklet.utils.async_logging.run_operations import get_combined_run_operations

    run_id = new_run(client)
    client.log_param(run_id, "p", "1")
    changed = client.log_param(run_id, "p", "2", synchronous=False)
    fine = client.log_metric(run_id, "m", 1.0, timestamp=1, synchronous=False)
    assert refusal(changed.wait).error_code == "INVALID_PARAMETER_VALUE"
    assert refusal(changed.wait).error_code == "INVALID_PARAMETER_VALUE"
    assert refusal(get_combined_run_operations([fine, changed]).wait).error_code == "INVALID_PARAMETER_VALUE"
    assert fine.wait() is None


def test_changed_param_message_names_key_and_values(client):
    run_id = new_run(client)
    client.log_param(run_id, "lr", "0.1")
    error = refusal(client.log_param(run_id, "lr", "0.2", synchronous=False).wait)
    assert "lr" in error.message and "0.1" in error.message and "0.2" in error.message


def test_flush_covers_every_store_and_client_in_the_process(tmp_path, monkeypatch):
    """Two sqlite stores and two clients of one of them, all logging async: one
    ``flush_async_logging()`` makes all of it visible."""
    monkeypatch.delenv("TRACKLET_ASYNC_SPOOL", raising=False)
    uris = [f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"]
    clients = [tracklet.MlflowClient(uris[0]), tracklet.MlflowClient(uris[0]), tracklet.MlflowClient(uris[1])]
    runs = [new_run(c) for c in clients]
    for client, run_id in zip(clients, runs, strict=True):
        for step in range(200):
            client.log_metric(run_id, "m", float(step), timestamp=step, step=step, synchronous=False)
        client.set_tag(run_id, "t", "v", synchronous=False)
    assert tracklet.flush_async_logging() is None
    for uri, run_id in zip([uris[0], uris[0], uris[1]], runs, strict=True):
        reader = tracklet.MlflowClient(uri)
        assert len(reader.get_metric_history(run_id, "m")) == 200
        assert reader.get_run(run_id).data.tags["t"] == "v"


@pytest.mark.parametrize(
    "variable", ["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", "TRACKLET_ASYNC_LOGGING_BUFFERING_SECONDS"]
)
def test_buffering_seconds_still_flushes_and_waits(tmp_path, monkeypatch, variable):
    """With a pause between the worker's writes, wait() and flush still return once the
    calls are stored, and nothing is dropped."""
    monkeypatch.delenv("TRACKLET_ASYNC_SPOOL", raising=False)
    monkeypatch.setenv(variable, "0.3")
    client = tracklet.MlflowClient(f"sqlite:///{tmp_path / 'buffered.db'}")
    run_id = new_run(client)
    first = client.log_metric(run_id, "m", 0.0, timestamp=0, step=0, synchronous=False)
    assert first.wait() is None and len(client.get_metric_history(run_id, "m")) == 1
    for step in range(1, 500):
        client.log_metric(run_id, "m", float(step), timestamp=step, step=step, synchronous=False)
    tracklet.flush_async_logging()
    assert history(client, run_id, "m") == [(s, float(s), s) for s in range(500)]


# -- volume and threads ------------------------------------------------------------------------


def test_log_batch_beyond_store_limits_all_lands(client):
    run_id = new_run(client)
    metrics = [Metric(f"m{k}", float(k * 100 + s), 1_000 + s, s) for k in range(50) for s in range(100)]
    params = [Param(f"p{i}", str(i)) for i in range(300)]
    tags = [RunTag(f"t{i}", f"v{i}") for i in range(300)]
    operations = client.log_batch(run_id, metrics=metrics, params=params, tags=tags, synchronous=False)
    assert isinstance(operations, run_operations_class())
    assert operations.wait() is None
    run = client.get_run(run_id)
    assert run.data.params == {f"p{i}": str(i) for i in range(300)}
    assert user_tags(run) == {f"t{i}": f"v{i}" for i in range(300)}
    assert run.data.metrics == {f"m{k}": float(k * 100 + 99) for k in range(50)}
    for k in (0, 17, 49):
        assert history(client, run_id, f"m{k}") == [(s, float(k * 100 + s), 1_000 + s) for s in range(100)]
    stored = sum(len(client.get_metric_history(run_id, f"m{k}")) for k in range(50))
    assert stored == 5_000


def test_four_threads_logging_to_one_run_each_point_once(client):
    run_id = new_run(client)
    per_thread = 500
    errors: list[BaseException] = []
    operations: list[Any] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def work(worker: int) -> None:
        try:
            start.wait()
            mine = []
            for i in range(per_thread):
                step = worker * 10_000 + i
                mine.append(
                    client.log_metric(
                        run_id, "shared", float(step), timestamp=step, step=step, synchronous=False
                    )
                )
                mine.append(
                    client.log_metric(run_id, f"w{worker}", float(i), timestamp=i, step=i, synchronous=False)
                )
                if i % 50 == 0:
                    mine.append(client.set_tag(run_id, f"w{worker}.tag", str(i), synchronous=False))
            mine.append(client.log_param(run_id, f"w{worker}", worker, synchronous=False))
            with lock:
                operations.extend(mine)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for op in operations:
        op.wait()
    shared = history(client, run_id, "shared")
    expected = sorted(
        (w * 10_000 + i, float(w * 10_000 + i), w * 10_000 + i) for w in range(4) for i in range(per_thread)
    )
    assert shared == expected
    for worker in range(4):
        assert history(client, run_id, f"w{worker}") == [(i, float(i), i) for i in range(per_thread)]
    run = client.get_run(run_id)
    assert run.data.params == {f"w{w}": str(w) for w in range(4)}
    assert user_tags(run) == {f"w{w}.tag": "450" for w in range(4)}


def test_threads_flushing_while_others_log(client):
    """flush_async_logging from one thread while another logs: it returns, and nothing the
    logging thread queued before that flush began is missing afterwards."""
    run_id = new_run(client)
    logged = threading.Event()
    stop = threading.Event()
    count = [0]

    def producer() -> None:
        step = 0
        while not stop.is_set() and step < 5_000:
            client.log_metric(run_id, "m", float(step), timestamp=step, step=step, synchronous=False)
            step += 1
            count[0] = step
            if step == 100:
                logged.set()
        logged.set()

    thread = threading.Thread(target=producer)
    thread.start()
    logged.wait()
    before = count[0]
    tracklet.flush_async_logging()
    steps = {m.step for m in client.get_metric_history(run_id, "m")}
    stop.set()
    thread.join()
    assert set(range(before)) <= steps
    tracklet.flush_async_logging()
    assert len(client.get_metric_history(run_id, "m")) == count[0]


# -- differential: the same script under MLflow 3.17.2 and tracklet ---------------------------

_DIFFERENTIAL = """
import json, os, sys, warnings
warnings.simplefilter("ignore")
import {mod} as mlflow
import {mod}.config
from {mod} import MlflowClient
from {mod}.entities import Metric, Param, RunTag
from {mod}.utils.async_logging.run_operations import RunOperations, get_combined_run_operations

mlflow.set_tracking_uri(sys.argv[1])
client = MlflowClient()
kind = lambda x: None if x is None else type(x).__name__
r = {{}}
experiment = client.create_experiment("async-differential")
run_id = client.create_run(experiment).info.run_id
r["log_metric"] = kind(client.log_metric(run_id, "loss", 0.5, timestamp=1000, step=0, synchronous=False))
for i in range(1, 60):
    client.log_metric(run_id, "loss", 1.0 / i, timestamp=1000 + i, step=i, synchronous=False)
r["log_param"] = kind(client.log_param(run_id, "lr", 0.1, synchronous=False))
r["log_param_sync"] = repr(client.log_param(run_id, "lr2", 0.2, synchronous=True))
r["log_param_default"] = repr(client.log_param(run_id, "lr3", 3))
r["set_tag"] = kind(client.set_tag(run_id, "phase", "a", synchronous=False))
# (no second async value for "phase": MLflow's thread pool may store either one last)
r["log_batch"] = kind(client.log_batch(
    run_id, metrics=[Metric("acc", i / 10, 2000 + i, i) for i in range(10)],
    params=[Param("bs", "32")], tags=[RunTag("t", "x")], synchronous=False))
r["log_batch_empty"] = kind(client.log_batch(run_id, synchronous=False))
ops = client.log_metric(run_id, "m", 1.5, timestamp=5, synchronous=False)
r["wait"] = repr(ops.wait())
r["combined_empty"] = kind(get_combined_run_operations([]))
r["combined_one_is_it"] = get_combined_run_operations([ops]) is ops
r["flush"] = repr(mlflow.flush_async_logging())
r["top_level_class"] = mlflow.RunOperations is RunOperations
with mlflow.start_run(experiment_id=experiment) as fluent_run:
    r["f_log_metric"] = kind(mlflow.log_metric("f", 1.0, step=0, timestamp=10, synchronous=False))
    r["f_log_metrics"] = kind(mlflow.log_metrics({{"g": 2.0, "h": 3.0}}, step=1, timestamp=11, synchronous=False))
    r["f_log_param"] = kind(mlflow.log_param("fp", 1, synchronous=False))
    r["f_log_param_sync"] = repr(mlflow.log_param("fp2", 2, synchronous=True))
    r["f_log_params"] = kind(mlflow.log_params({{"a": 1, "b": 2}}, synchronous=False))
    r["f_set_tag"] = kind(mlflow.set_tag("ft", "v", synchronous=False))
    r["f_set_tags"] = kind(mlflow.set_tags({{"x": "1", "y": "2"}}, synchronous=False))
    r["f_log_metric_sync"] = kind(mlflow.log_metric("f", 2.0, step=1, timestamp=12, synchronous=True))
    for i in range(100):
        mlflow.log_metric("fast", float(i), step=i, timestamp=100 + i, synchronous=False)
changed = client.log_param(run_id, "lr", 0.9, synchronous=False)
try:
    changed.wait()
    r["changed_param_wait"] = "no error"
except Exception as e:
    r["changed_param_wait"] = "MlflowException" if hasattr(e, "error_code") else type(e).__name__
client.set_terminated(run_id)

def dump(rid):
    run = client.get_run(rid)
    return {{"status": run.info.status, "metrics": run.data.metrics, "params": run.data.params,
            "tags": {{k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}},
            "history": {{k: sorted([m.step, m.timestamp, m.value] for m in client.get_metric_history(rid, k))
                        for k in sorted(run.data.metrics)}}}}

out = {{"returns": r, "client_run": dump(run_id), "fluent_run": dump(fluent_run.info.run_id)}}
switches = {{}}
other = client.create_run(experiment).info.run_id
os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] = "true"
switches["env_log_metric"] = kind(client.log_metric(other, "e", 1.0, timestamp=1))
switches["env_log_param"] = kind(client.log_param(other, "e", 1))
switches["env_sync_wins"] = repr(client.log_param(other, "e2", 2, synchronous=True))
del os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"]
switches["env_removed"] = repr(client.log_param(other, "e3", 3))
mlflow.config.enable_async_logging(True)
switches["config_on"] = kind(client.set_tag(other, "c", "1"))
mlflow.config.enable_async_logging(False)
switches["config_off"] = kind(client.set_tag(other, "c2", "2"))
mlflow.flush_async_logging()
out["switches"] = switches
out["switch_run"] = dump(other)
print("RESULT " + json.dumps(out, sort_keys=True))
"""


def _run_script(
    source: str, module: str, root: Path, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``source`` (``{mod}`` = ``module``) in a fresh process on ``root/store.db`` with no
    MLflow or tracklet variables set; return the JSON it printed after ``RESULT``."""
    root.mkdir()
    script = root / "script.py"
    script.write_text(source.format(mod=module))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKLET_", "MLFLOW_"))}
    env.update({"HOME": str(root), "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    env.update(extra_env or {})
    proc = subprocess.run(
        [sys.executable, str(script), f"sqlite:///{root / 'store.db'}"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"{module} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return json.loads(lines[-1][len("RESULT ") :])  # type: ignore[no-any-return]


@pytest.mark.interop
def test_same_script_same_run_data_as_mlflow(tmp_path):
    seen_by_mlflow = _run_script(_DIFFERENTIAL, "mlflow", tmp_path / "mlflow")
    seen_by_tracklet = _run_script(_DIFFERENTIAL, "tracklet", tmp_path / "tracklet")
    assert seen_by_mlflow["returns"]["log_param"] == "RunOperations"  # the script means what it says
    assert seen_by_mlflow["client_run"]["history"]["loss"][-1] == [59, 1059, 1.0 / 59]
    for part in sorted(seen_by_mlflow):
        for key in sorted(seen_by_mlflow[part]):
            assert seen_by_tracklet[part].get(key) == seen_by_mlflow[part][key], (part, key)
    assert seen_by_tracklet == seen_by_mlflow


_EXIT_WITHOUT_FLUSH = """
import json, sys
import {mod} as mlflow
from {mod} import MlflowClient
mlflow.set_tracking_uri(sys.argv[1])
client = MlflowClient()
run_id = client.create_run("0").info.run_id
for step in range(2000):
    client.log_metric(run_id, "m", float(step), timestamp=step, step=step, synchronous=False)
client.log_param(run_id, "p", "1", synchronous=False)
active = mlflow.start_run()
for step in range(500):
    mlflow.log_metric("f", float(step), step=step, synchronous=False)
print("RESULT " + json.dumps({{"client_run": run_id, "fluent_run": active.info.run_id}}))
"""


@pytest.mark.parametrize("spooled", [False, True], ids=["memory-queue", "spool"])
def test_process_exit_flushes_and_ends_the_active_run(tmp_path, spooled):
    """A script that logs async and exits without flushing or ending its run: at exit the
    queue is drained (MLflow's atexit does the same) and the active run is FINISHED; with
    the spool on, its fully applied segment is deleted."""
    spool = tmp_path / "spool"
    extra_env = {"TRACKLET_ASYNC_SPOOL": str(spool)} if spooled else {}
    ids = _run_script(_EXIT_WITHOUT_FLUSH, "tracklet", tmp_path / "exit", extra_env)
    if spooled:
        assert spool.is_dir() and sorted(p.name for p in spool.glob("*.seg")) == []
    client = tracklet.MlflowClient(f"sqlite:///{tmp_path / 'exit' / 'store.db'}")
    assert history(client, ids["client_run"], "m") == [(s, float(s), s) for s in range(2000)]
    assert client.get_run(ids["client_run"]).data.params == {"p": "1"}
    fluent_run = client.get_run(ids["fluent_run"])
    assert fluent_run.info.status == "FINISHED"
    assert sorted(m.step for m in client.get_metric_history(ids["fluent_run"], "f")) == list(range(500))
