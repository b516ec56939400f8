"""M4 sampling of a metric history in the database (``TrackingStore.sample_metric_history``),
so a chart of a 1,000,000-point history never brings the million rows to Python.

On tracklet's schema the ``metrics`` primary key starts ``(run_uuid, key, step, timestamp)``:
a step range of one history is an index range. The window is counted, and when it holds
more points than asked for, each of the ``max_points // 4`` step buckets is read with four
``LIMIT 1`` queries over its index range (first, last, lowest, highest): one pass over the
rows in all, no sort of the history, no temporary table. The answer is the contract's
default's, point for point (the conformance suite compares them).

Sampling by time, and MLflow's schema (whose key starts with ``key, timestamp``, so a step
range is no index range), use the contract's default, which reads the history.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import sqlalchemy as sa

from tracklet.entities import Metric
from tracklet.stores import refusals

from ._schemas import TRACKLET, Schema

__all__ = ["SqlSampling"]


#: Buckets read per statement: four ``LIMIT 1`` sub-selects each, joined by UNION ALL.
_CHUNK = 25
_PICKS = ("first", "last", "low", "high")


def _window(schema: Schema, lo: str, hi: str) -> tuple[sa.ColumnElement[bool], ...]:
    m = schema.metrics.c
    return (
        m.run_uuid == sa.bindparam("run_uuid"),
        m.key == sa.bindparam("key"),
        m.step >= sa.bindparam(lo),
        m.step <= sa.bindparam(hi),
    )


def _pick(schema: Schema, name: str, lo: str, hi: str) -> sa.Select[Any]:
    """One bucket's first, last, lowest or highest row (NaN is not compared)."""
    m = schema.metrics.c
    point = sa.select(m.step, m.timestamp, m.value, m.nonfinite).where(*_window(schema, lo, hi))
    if name == "first":
        return point.order_by(m.step, m.timestamp, m.value).limit(1)
    if name == "last":
        return point.order_by(m.step.desc(), m.timestamp.desc(), m.value.desc()).limit(1)
    compared = point.where(schema.not_nan(m.nonfinite))
    if name == "low":
        return compared.order_by(m.value, m.step, m.timestamp).limit(1)
    return compared.order_by(m.value.desc(), m.step, m.timestamp).limit(1)


@cache
def _queries(schema: Schema) -> dict[str, Any]:
    m = schema.metrics.c
    point = sa.select(m.step, m.timestamp, m.value, m.nonfinite).where(*_window(schema, "lo", "hi"))
    picks = []
    for i in range(_CHUNK):
        for name in _PICKS:
            sub = _pick(schema, name, f"lo{i}", f"hi{i}").subquery()
            picks.append(sa.select(sa.literal(i).label("bucket"), *sub.c))
    return {
        "count": sa.select(sa.func.count()).select_from(schema.metrics).where(*_window(schema, "lo", "hi")),
        "all": point.order_by(m.step, m.timestamp, m.value, m.nonfinite),
        "first": _pick(schema, "first", "lo", "hi"),
        "last": _pick(schema, "last", "lo", "hi"),
        "buckets": sa.union_all(*picks),
    }


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class SqlSampling:
    """The database side of ``sample_metric_history`` for :class:`tracklet_sql.store.SqlStore`."""

    engine: sa.Engine
    schema: Schema

    def _sample_metric_history(
        self,
        run_id: str,
        metric_key: str,
        max_points: int,
        x_axis: str,
        min_x: float | None,
        max_x: float | None,
    ) -> tuple[int, list[Metric]]:
        """M4 over step buckets in SQL (see the module's text); by time, or on MLflow's
        schema, the contract's default."""
        if x_axis != "step" or self.schema.name != TRACKLET:
            default: Any = super()  # TrackingStore, next in SqlStore's MRO
            return default._sample_metric_history(run_id, metric_key, max_points, x_axis, min_x, max_x)  # type: ignore[no-any-return]
        lo = -(2**63) if min_x is None or min_x == -math.inf else math.ceil(min_x)
        hi = 2**63 - 1 if max_x is None or max_x == math.inf else math.floor(max_x)
        if min_x == math.inf or max_x == -math.inf:
            lo, hi = 1, 0  # an empty window
        q = _queries(self.schema)
        decode = self.schema.decode_value
        with self.engine.connect() as conn:
            runs = self.schema.runs.c
            if conn.execute(sa.select(runs.run_uuid).where(runs.run_uuid == run_id)).first() is None:
                raise refusals.no_such_run(run_id)
            args = {"run_uuid": run_id, "key": metric_key, "lo": lo, "hi": hi}
            total = int(conn.execute(q["count"], args).scalar_one())
            if total <= max_points:
                rows = conn.execute(q["all"], args).all() if total else []
            else:
                first_step = conn.execute(q["first"], args).one()[0]
                last_step = conn.execute(q["last"], args).one()[0]
                rows = self._bucket_rows(conn, q, run_id, metric_key, first_step, last_step, max_points // 4)
        points = [
            Metric(metric_key, decode(value, nonfinite), timestamp, step)
            for step, timestamp, value, nonfinite in rows
        ]
        return total, points

    @staticmethod
    def _bucket_rows(
        conn: sa.Connection,
        q: dict[str, Any],
        run_id: str,
        metric_key: str,
        first_step: int,
        last_step: int,
        buckets: int,
    ) -> list[Any]:
        """Each bucket's first, last, lowest and highest row, each once, in order."""
        span = last_step - first_step + 1
        bounds = [
            (first_step + _ceil_div(b * span, buckets), first_step + _ceil_div((b + 1) * span, buckets) - 1)
            for b in range(buckets)
        ]
        bounds = [(lo, hi) for lo, hi in bounds if lo <= hi]
        kept: dict[tuple[Any, ...], None] = {}  # an ordered set of rows
        for chunk in range(0, len(bounds), _CHUNK):
            args: dict[str, Any] = {"run_uuid": run_id, "key": metric_key}
            for i in range(_CHUNK):  # a short last chunk repeats its last bucket
                lo, hi = bounds[min(chunk + i, len(bounds) - 1)]
                args[f"lo{i}"], args[f"hi{i}"] = lo, hi
            rows = conn.execute(q["buckets"], args).all()
            for row in sorted(rows, key=lambda r: (r[1], r[2], r[3], r[4])):
                kept[tuple(row[1:])] = None
        return list(kept)
