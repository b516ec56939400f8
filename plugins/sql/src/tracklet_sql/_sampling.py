"""M4 sampling of a metric history in the database (``TrackingStore.sample_metric_history``),
so a chart of a 1,000,000-point history never brings the million rows to Python.

On tracklet's schema the ``metrics`` primary key starts ``(run_uuid, key, step, timestamp)``:
a step range of one history is an index range. The window is counted, and when it holds
more points than asked for, each of the ``max_points // 4`` step buckets is read with four
``LIMIT 1`` queries over its index range (first, last, lowest, highest): one pass over the
rows in all, no sort of the history, no temporary table. The answer is the contract's
default's, point for point (the conformance suite compares them).

By time, no index orders a history: the window's rows are read once in the key's order, as
tuples, put in time order (usually they are already) and bucketed in Python (far cheaper
than the default's Metric objects). MLflow's
schema (whose key starts with ``key, timestamp``, so a step range is no index range) uses
the contract's default, which reads the history.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from functools import cache
from typing import Any

import sqlalchemy as sa

from tracklet.entities import Metric
from tracklet.stores import refusals

from ._schema import NAN
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
        "by_time": sa.select(m.step, m.timestamp, m.value, m.nonfinite)
        .where(
            m.run_uuid == sa.bindparam("run_uuid"),
            m.key == sa.bindparam("key"),
            m.timestamp >= sa.bindparam("lo"),
            m.timestamp <= sa.bindparam("hi"),
        )
        .order_by(m.step, m.timestamp, m.value, m.nonfinite),  # the key's order: no sort
    }


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _in_time_order(rows: Sequence[Any]) -> Sequence[Any]:
    """Rows read in the key's order (step, timestamp, value, nonfinite) put in time order
    (timestamp, step, value, nonfinite). A history whose time never goes back as its steps
    go on is in that order already; another is sorted here, where the database would sort
    the whole history without an index (several times slower on sqlite)."""
    if all(rows[i][1] <= rows[i + 1][1] for i in range(len(rows) - 1)):
        return rows
    return sorted(rows, key=lambda r: (r[1], r[0], r[2], r[3]))


def _m4_by_time(rows: Sequence[Any], buckets: int) -> list[Any]:
    """M4 over rows ``(step, timestamp, value, nonfinite)`` in timestamp order, as the
    contract's default picks (no index orders a history by time, so the window's rows are
    read once, as tuples, and bucketed here)."""
    xs = [row[1] for row in rows]
    lo, span = xs[0], xs[-1] - xs[0] + 1
    kept: list[Any] = []
    start = 0
    while start < len(rows):
        bucket = (xs[start] - lo) * buckets // span
        end = bisect.bisect_left(xs, lo + _ceil_div((bucket + 1) * span, buckets), start)
        compared = [i for i in range(start, end) if rows[i][3] != NAN]
        picks = {start, end - 1}
        if compared:
            picks.add(min(compared, key=lambda i: rows[i][2]))
            picks.add(max(compared, key=lambda i: rows[i][2]))  # max: the first of equal highs
        kept.extend(rows[i] for i in sorted(picks))
        start = end
    return kept


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
        if self.schema.name != TRACKLET:
            default: Any = super()  # TrackingStore, next in SqlStore's MRO
            return default._sample_metric_history(run_id, metric_key, max_points, x_axis, min_x, max_x)  # type: ignore[no-any-return]
        lo = -(2**63) if min_x is None or min_x == -math.inf else math.ceil(min_x)
        hi = 2**63 - 1 if max_x is None or max_x == math.inf else math.floor(max_x)
        if min_x == math.inf or max_x == -math.inf:
            lo, hi = 1, 0  # an empty window
        q = _queries(self.schema)
        with self.engine.connect() as conn:
            runs = self.schema.runs.c
            if conn.execute(sa.select(runs.run_uuid).where(runs.run_uuid == run_id)).first() is None:
                raise refusals.no_such_run(run_id)
            args = {"run_uuid": run_id, "key": metric_key, "lo": lo, "hi": hi}
            if x_axis == "time":
                rows = _in_time_order(conn.execute(q["by_time"], args).all())
                total = len(rows)
                if total > max_points:
                    rows = _m4_by_time(rows, max_points // 4)
                return total, self._metrics(metric_key, rows)
            total = int(conn.execute(q["count"], args).scalar_one())
            if total <= max_points:
                rows = conn.execute(q["all"], args).all() if total else []
            else:
                first_step = conn.execute(q["first"], args).one()[0]
                last_step = conn.execute(q["last"], args).one()[0]
                rows = self._bucket_rows(conn, q, run_id, metric_key, first_step, last_step, max_points // 4)
        return total, self._metrics(metric_key, rows)

    def _metrics(self, metric_key: str, rows: Any) -> list[Metric]:
        decode = self.schema.decode_value
        return [
            Metric(metric_key, decode(value, nonfinite), timestamp, step)
            for step, timestamp, value, nonfinite in rows
        ]

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
