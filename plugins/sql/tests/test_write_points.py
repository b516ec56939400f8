"""A batch's metric points land exactly as written, whatever the statement shape.

``log_batch`` writes its points as columns (:func:`tracklet_sql._write.metric_points`),
on sqlite in multi-row ``VALUES`` statements of power-of-two sizes, the last padded by
repeating a point (:func:`tracklet_sql._write.write_points`), on PostgreSQL as arrays.
These tests read ``metrics`` and ``latest_metrics`` back row by row and compare them
with what the per-point rule says (the rule is written out here as the reference): every
distinct point once, each key's latest the largest ``(step, timestamp, value)``, a
re-sent batch or an older point leaving the latest alone, NaN and infinities encoded.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from tracklet.entities import Metric
from tracklet_sql._schema import encode_value as encode
from tracklet_sql._write import _chunk_sizes, _value_chunks, max_values_rows, metric_points
from tracklet_sql.store import SqlStore

T0 = 1_700_000_000_000


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'points.db'}"
    else:
        uri = request.getfixturevalue({"postgresql": "postgres_uri", "mysql": "mysql_uri"}[request.param])
    s = SqlStore(uri, str(tmp_path / "artifacts"))
    yield s
    s.close()


def _stored(store: SqlStore, run_id: str) -> tuple[list[tuple[Any, ...]], dict[str, tuple[Any, ...]]]:
    """The run's ``metrics`` rows (sorted) and ``latest_metrics`` rows by key."""
    out = []
    for table in (store.schema.metrics, store.schema.latest_metrics):
        c = table.c
        with store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(c.key, c.step, c.timestamp, c.value, c.nonfinite).where(c.run_uuid == run_id)
            ).all()
        out.append([(k, int(s), int(t), float(v), int(n)) for k, s, t, v, n in rows])
    return sorted(out[0]), {row[0]: row for row in out[1]}


def _expected(
    store: SqlStore, batches: Sequence[Sequence[Metric]]
) -> tuple[list[tuple[Any, ...]], dict[str, tuple[Any, ...]]]:
    """The per-point rule: one row per distinct encoded point; per key the largest
    ``(step, timestamp, value)``, the first of equals."""
    history: dict[tuple[Any, ...], None] = {}
    latest: dict[str, tuple[Any, ...]] = {}
    for batch in batches:
        for m in batch:
            value, flag = store.schema.encode_value(float(m.value))
            row = (m.key, int(m.step), int(m.timestamp), value, int(flag))
            history[row] = None
            if row[0] not in latest or row[1:4] > latest[row[0]][1:4]:
                latest[row[0]] = row
    return sorted(history), latest


def _batch(count: int, step: int, rng: random.Random) -> list[Metric]:
    special = [math.nan, math.inf, -math.inf, -0.0, 0.0, 3, 1e308]
    return [
        Metric(f"m{k}", special[k % 7] if k % 5 == 0 else rng.random(), T0 + step, step) for k in range(count)
    ]


@pytest.mark.parametrize("count", [1, 2, 3, 17, 100, 1000])
def test_each_size_stores_every_point_once_and_the_largest_latest(store: SqlStore, count: int) -> None:
    run_id = store.create_run(
        store.create_experiment(f"sizes-{uuid.uuid4().hex}"), "u", T0, [], "r"
    ).info.run_id
    rng = random.Random(count)
    batches = [_batch(count, 5, rng), _batch(count, 7, rng)]
    for batch in batches:
        store.log_batch(run_id, batch, [], [])
    assert _stored(store, run_id) == _expected(store, batches)
    store.log_batch(run_id, batches[1], [], [])  # re-sent: nothing changes
    older = _batch(count, 6, rng)  # between the two: history only
    store.log_batch(run_id, older, [], [])
    assert _stored(store, run_id) == _expected(store, [*batches, older])


def test_repeated_keys_and_points_in_one_batch(store: SqlStore) -> None:
    run_id = store.create_run(
        store.create_experiment(f"repeats-{uuid.uuid4().hex}"), "u", T0, [], "r"
    ).info.run_id
    batch = [
        Metric("a", 1.0, T0, 2),
        Metric("a", 1.0, T0, 2),  # the same point twice: one row
        Metric("a", 5.0, T0, 1),  # older step: history only
        Metric("a", 0.5, T0 + 1, 2),  # same step, later timestamp: the latest
        Metric("b", math.nan, T0, 3),
        Metric("b", 0.0, T0, 3),  # equal (step, timestamp, stored value) to the NaN: the first stays
        Metric("c", -math.inf, T0, 0),
        Metric("c", math.inf, T0, 0),
        *(Metric(f"k{i}", float(i), T0, i % 3) for i in range(40)),
    ]
    store.log_batch(run_id, batch, [], [])
    assert _stored(store, run_id) == _expected(store, [batch])


def test_numpy_scalars_are_stored_as_plain_numbers(store: SqlStore) -> None:
    run_id = store.create_run(
        store.create_experiment(f"numpy-{uuid.uuid4().hex}"), "u", T0, [], "r"
    ).info.run_id
    batch = [
        Metric("f32", np.float32(0.25), np.int64(T0), np.int64(1)),
        Metric("i", np.int32(3), T0, np.int16(2)),
        Metric("inf", np.float64("inf"), T0, 0),
    ]
    store.log_batch(run_id, batch, [], [])
    assert _stored(store, run_id) == _expected(store, [batch])


def test_metric_points_match_the_per_point_rule() -> None:
    rng = random.Random(3)
    for _ in range(200):
        batch = [
            Metric(
                rng.choice("abc"),
                rng.choice([math.nan, math.inf, 1.0, 2.0, -0.0]),
                rng.randint(0, 2),
                rng.randint(0, 2),
            )
            for _ in range(rng.randint(1, 12))
        ]
        history: dict[tuple[Any, ...], None] = {}
        latest: dict[str, tuple[Any, ...]] = {}
        for m in batch:
            row = (m.key, m.step, m.timestamp, *encode(m.value))
            history[row] = None
            if row[0] not in latest or row[1:4] > latest[row[0]][1:4]:
                latest[row[0]] = row
        points = metric_points(batch, encode)
        assert points.history.rows("r") == [("r", *row) for row in history]
        assert points.latest.rows("r") == [("r", *row) for row in latest.values()]


def test_chunk_sizes_are_few_powers_of_two_covering_the_points() -> None:
    for count in range(1, 3 * max_values_rows()):
        sizes = _chunk_sizes(count)
        assert all(s & (s - 1) == 0 and s <= max_values_rows() for s in sizes)
        assert sum(sizes[:-1]) < count <= sum(sizes)
        assert sum(sizes) - count <= sizes[-1] // 16  # padding: at most 1/16 of a statement
    if max_values_rows() >= 1024:
        assert _chunk_sizes(1000) == [1024]  # a full batch: one statement


@pytest.mark.parametrize("count", [2, 17, 1000])
def test_one_step_batches_store_every_point(store: SqlStore, count: int) -> None:
    """A batch of one step and one timestamp, every value finite (``log_metrics`` of a
    training step) binds step, timestamp and flag once on sqlite: the same rows land."""
    run_id = store.create_run(
        store.create_experiment(f"one-step-{uuid.uuid4().hex}"), "u", T0, [], "r"
    ).info.run_id
    rng = random.Random(count)
    batches = [[Metric(f"m{k}", rng.random(), T0 + step, step) for k in range(count)] for step in (3, 9, 4)]
    points = metric_points(batches[0], encode)
    assert all(shared for _, shared, _ in _value_chunks("r", points.history))  # the path under test
    for batch in batches:
        store.log_batch(run_id, batch, [], [])
    assert _stored(store, run_id) == _expected(store, batches)


def test_only_uniform_columns_are_bound_once() -> None:
    one = [Metric(f"m{k}", 0.5, T0, 2) for k in range(4)]
    assert [c[1] for c in _value_chunks("r", metric_points(one, encode).history)] == [True]
    for odd in (Metric("x", 0.5, T0, 3), Metric("x", 0.5, T0 + 1, 2), Metric("x", math.nan, T0, 2)):
        chunks = _value_chunks("r", metric_points([*one, odd], encode).history)
        assert [c[1] for c in chunks] == [False] * len(chunks)
