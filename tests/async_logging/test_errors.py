"""Errors of asynchronous calls: nothing is silent, nothing else is lost.

* A call whose input is bad raises at once, in the caller, with the code the synchronous
  call raises (INVALID_PARAMETER_VALUE), and stores nothing: it never reaches the queue.
* A call the *store* refuses (a param logged again with another value) has already
  returned; its ``RunOperations.wait()`` raises the store's error, and the calls queued
  with it, coalesced into the same ``log_batch``, are stored all the same (the worker
  splits the failed batch to find the refused record).

On every store (file, sqlite, ``tracklet server``, PostgreSQL when reachable), with the
in-memory queue and with the spool.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tracklet
from tracklet.entities import Metric, Param, RunTag
from tracklet.exceptions import TrackletException

INVALID = "INVALID_PARAMETER_VALUE"

BACKENDS = ["file", "sqlite", "http", "postgresql"]


@pytest.fixture(params=BACKENDS)
def backend_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return str(tmp_path / "mlruns")
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    if request.param == "http":
        return str(request.getfixturevalue("http_server"))
    return str(request.getfixturevalue("postgres_uri"))


@pytest.fixture(params=["memory", "spool"])
def client(
    request: pytest.FixtureRequest, backend_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A client on the backend, async calls queued in memory or through a spool."""
    spool = tmp_path / "spool"
    monkeypatch.setenv("TRACKLET_ASYNC_SPOOL", "off" if request.param == "memory" else str(spool))
    tracklet.set_tracking_uri(backend_uri)
    yield tracklet.MlflowClient(backend_uri)
    tracklet.flush_async_logging()
    from tracklet import fluent

    fluent._end_all_runs()
    tracklet.set_tracking_uri(None)


def _new_run(client: Any, name: str) -> str:
    experiment = client.get_experiment_by_name(name) or client.get_experiment(client.create_experiment(name))
    return str(client.create_run(experiment.experiment_id).info.run_id)


def _user_data(client: Any, run_id: str) -> tuple[dict[str, float], dict[str, str], dict[str, str]]:
    data = client.get_run(run_id).data
    tags = {k: v for k, v in data.tags.items() if not k.startswith("mlflow.")}
    return dict(data.metrics), dict(data.params), tags


#: Bad calls: (name, the call on (client, run_id, synchronous)).
BAD_CALLS: list[tuple[str, Callable[[Any, str, bool], Any]]] = [
    ("metric key", lambda c, r, s: c.log_metric(r, "bad?key", 1.0, synchronous=s)),
    ("metric key path", lambda c, r, s: c.log_metric(r, "../up", 1.0, synchronous=s)),
    ("metric NaN step", lambda c, r, s: c.log_metric(r, "k", 1.0, step=math.nan, synchronous=s)),
    ("metric text value", lambda c, r, s: c.log_metric(r, "k", "abc", synchronous=s)),
    ("metric negative timestamp", lambda c, r, s: c.log_metric(r, "k", 1.0, timestamp=-1, synchronous=s)),
    ("param key", lambda c, r, s: c.log_param(r, "bad?key", "1", synchronous=s)),
    ("param value too long", lambda c, r, s: c.log_param(r, "p", "x" * 6001, synchronous=s)),
    ("tag NUL", lambda c, r, s: c.set_tag(r, "t", "a\x00b", synchronous=s)),
    ("batch metric key", lambda c, r, s: c.log_batch(r, [Metric("bad?key", 1.0, 1, 0)], synchronous=s)),
    ("batch param key", lambda c, r, s: c.log_batch(r, params=[Param("bad?key", "1")], synchronous=s)),
]


@pytest.mark.parametrize("name, call", BAD_CALLS, ids=[name for name, _ in BAD_CALLS])
def test_a_bad_call_raises_at_once_and_stores_nothing(
    client: Any, name: str, call: Callable[[Any, str, bool], Any]
) -> None:
    with pytest.raises(TrackletException) as sync_error:
        call(client, _new_run(client, "bad-sync"), True)
    run_id = _new_run(client, "bad-async")
    with pytest.raises(TrackletException) as async_error:
        call(client, run_id, False)
    assert async_error.value.error_code == sync_error.value.error_code == INVALID, (
        f"{name}: async {async_error.value.error_code} ({async_error.value}), "
        f"sync {sync_error.value.error_code} ({sync_error.value})"
    )
    # what follows it is unaffected, and the bad call left nothing in the queue or store
    client.log_metric(run_id, "after", 1.0, step=0, synchronous=False).wait()
    tracklet.flush_async_logging()
    assert _user_data(client, run_id) == ({"after": 1.0}, {}, {}), name


def test_a_bad_fluent_call_raises_at_once_and_stores_nothing(client: Any) -> None:
    run_id = _new_run(client, "bad-fluent")
    with tracklet.start_run(run_id=run_id):
        for bad in (
            lambda: tracklet.log_metric("bad?key", 1.0, synchronous=False),
            lambda: tracklet.log_metric("k", 1.0, step=math.nan, synchronous=False),
            lambda: tracklet.log_metrics({"ok": 1.0, "bad?key": 2.0}, synchronous=False),
            lambda: tracklet.log_param("p", "x" * 6001, synchronous=False),
            lambda: tracklet.log_params({"ok": "1", "bad?key": "2"}, synchronous=False),
            lambda: tracklet.set_tag("bad?key", "v", synchronous=False),
            lambda: tracklet.set_tags({"ok": "1", "t": "a\x00b"}, synchronous=False),
        ):
            with pytest.raises(TrackletException) as error:
                bad()
            assert error.value.error_code == INVALID, error.value
        tracklet.flush_async_logging()
    assert _user_data(client, run_id) == ({}, {}, {})


def test_wait_raises_the_stores_error_and_the_rest_of_the_batch_is_stored(client: Any) -> None:
    from tracklet.async_logging import RunOperations

    run_id = _new_run(client, "refused")
    client.log_param(run_id, "lr", "0.1")
    with pytest.raises(TrackletException) as sync_error:
        client.log_param(run_id, "lr", "0.2")

    # queued back to back so that the worker coalesces them into one batch (or a few)
    before = [client.log_metric(run_id, "m", float(i), step=i, synchronous=False) for i in range(100)]
    refused = client.log_param(run_id, "lr", "0.2", synchronous=False)
    param = client.log_param(run_id, "batch_size", "32", synchronous=False)
    tag = client.set_tag(run_id, "phase", "train", synchronous=False)
    batch = client.log_batch(
        run_id, [Metric("b", 2.0, 1, 0)], [Param("opt", "adam")], [RunTag("x", "y")], synchronous=False
    )
    after = [client.log_metric(run_id, "m", float(i), step=i, synchronous=False) for i in range(100, 200)]
    assert isinstance(refused, RunOperations)

    with pytest.raises(TrackletException) as error:
        refused.wait()
    assert error.value.error_code == sync_error.value.error_code == INVALID, error.value
    assert "lr" in str(error.value), error.value
    for ops in [*before, param, tag, batch, *after]:
        ops.wait()  # raises if the refusal took the rest of its batch down with it
    tracklet.flush_async_logging()

    metrics, params, tags = _user_data(client, run_id)
    assert params == {"lr": "0.1", "batch_size": "32", "opt": "adam"}
    assert tags == {"phase": "train", "x": "y"}
    assert metrics == {"m": 199.0, "b": 2.0}
    history = client.get_metric_history(run_id, "m")
    assert sorted(m.step for m in history) == list(range(200))
    assert all(m.value == float(m.step) for m in history)


def test_a_refusal_is_raised_by_every_wait(client: Any) -> None:
    """MLflow's ``RunOperations`` wraps futures, whose ``result()`` raises each time it is
    asked: waiting twice, or on a combination holding the refused call, raises again."""
    from tracklet.async_logging import get_combined_run_operations

    run_id = _new_run(client, "refused-twice")
    client.log_param(run_id, "lr", "0.1")
    refused = client.log_param(run_id, "lr", "0.2", synchronous=False)
    tag = client.set_tag(run_id, "phase", "train", synchronous=False)
    for _ in range(2):
        with pytest.raises(TrackletException) as error:
            refused.wait()
        assert error.value.error_code == INVALID, error.value
    with pytest.raises(TrackletException) as combined:
        get_combined_run_operations([refused, None, tag]).wait()
    assert combined.value.error_code == INVALID, combined.value


def test_wait_raises_the_stores_error_through_the_fluent_api(client: Any) -> None:
    run_id = _new_run(client, "refused-fluent")
    with tracklet.start_run(run_id=run_id):
        tracklet.log_param("lr", "0.1")
        refused = tracklet.log_params({"lr": "0.3", "epochs": "5"}, synchronous=False)
        metric = tracklet.log_metric("loss", 0.5, step=1, synchronous=False)
        with pytest.raises(TrackletException) as error:
            refused.wait()
        assert error.value.error_code == INVALID, error.value
        metric.wait()
    metrics, params, _ = _user_data(client, run_id)
    assert metrics == {"loss": 0.5}
    assert params["lr"] == "0.1"


def test_the_run_operations_class_is_importable_from_mlflows_path(client: Any) -> None:
    from tracklet.utils.async_logging.run_operations import RunOperations

    run_id = _new_run(client, "path")
    ops = client.log_param(run_id, "a", "1", synchronous=False)
    assert isinstance(ops, RunOperations)
    ops.wait()
    assert client.log_param(run_id, "b", "2") == "2"  # the synchronous return is unchanged
    assert _user_data(client, run_id)[1] == {"a": "1", "b": "2"}
