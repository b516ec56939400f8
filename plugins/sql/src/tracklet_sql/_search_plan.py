"""PostgreSQL: how a run search that reads every run of its experiments joins.

A filter on metrics, params, tags or datasets, or an order by a metric, param or tag,
makes a search look at every run of the experiments it searches (the keyset pages of
:mod:`tracklet_sql._search_keyset` stop early instead). Each clause is a lookup in a
table keyed by ``(run_uuid, key)``, and PostgreSQL joins it one of two ways:

* **nested loops**: one primary-key probe per run and clause, a cost that follows the
  experiment's size: right for an experiment that is a small part of the store;
* **hash joins**: one pass over the key's rows of the whole store (``params`` and the
  other tables hold no experiment id), a cost that follows the store's size: right for
  an experiment that is most of it.

The planner tells them apart by statistics. A store just loaded, imported or grown fast
has none yet, or stale ones (autovacuum's first ANALYZE comes a minute or more later),
and then PostgreSQL estimates one run per experiment and always picks nested loops.
Measured on PostgreSQL 15 (filter ``metrics.m1 > 0.5 and params.p1 = 'a'``, order by
``metrics.m2``, one page of 100, no statistics):

=================================================  ============  ==========
experiment / store                                 nested loops  hash joins
=================================================  ============  ==========
200,000 runs, the whole store                          2,680 ms      791 ms
20,000 runs, the whole store                             138 ms       77 ms
2,000 runs, the whole store                            14-23 ms    14-23 ms
2,000 runs in a store of 202,000                          27 ms      608 ms
=================================================  ============  ==========

So the store counts the runs of the experiments searched, and when they are at least
:data:`LARGE_RUNS` and at least half of the store's runs (:func:`hash_joins`), the page
statement runs with nested loops off (``SET LOCAL enable_nestloop = off``, in its own
transaction; everything else is the planner's choice), planned for its parameters on
every call. Either way the statement is the same, so are its results. Such a page takes
four round trips (BEGIN, SET, the statement, COMMIT), a fraction of a millisecond beside
a search of 10,000 runs or more; any other page keeps its one. The count is kept per
engine and experiment set for :data:`RECHECK_S` seconds.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from tracklet.search import ATTRIBUTE, Expr, OrderKey, any_comparison
from tracklet_sql._schemas import Schema

__all__ = ["LARGE_RUNS", "RECHECK_S", "hash_joins", "reads_every_run", "run_without_nested_loops"]

#: Fewest runs searched for which hash joins can win (below, both plans cost about the same).
LARGE_RUNS = 10_000
#: How long an experiment set's size is trusted before it is counted again, in seconds.
RECHECK_S = 60.0

#: Marks the statement run without nested loops (in ``pg_stat_activity`` and the server's log).
_MARK = "/* tracklet: hash joins */ "

#: Experiment sets remembered per engine; past this many the engine's are forgotten at once.
_KEEP = 1024
#: Per engine: (runs table, experiment ids, stages) -> (hash joins?, when counted). No lock:
#: each step is one dictionary operation (atomic under the GIL), a race only counts twice,
#: and a lock held by another thread at a fork would stay locked in the child.
_known: weakref.WeakKeyDictionary[sa.Engine, dict[Any, tuple[bool, float]]] = weakref.WeakKeyDictionary()


def reads_every_run(expr: Expr | None, order_keys: Sequence[OrderKey], keyset: bool) -> bool:
    """Whether a search joins lookups to every run of its experiments: a filter or an
    order-by on metrics, params, tags or datasets, and not a keyset page (``keyset``),
    which reads runs newest first and stops at the page's end."""
    if keyset:
        return False
    return any_comparison(expr, lambda c: c.entity_type != ATTRIBUTE) or any(
        key.entity_type != ATTRIBUTE for key in order_keys
    )


def _count(conn: sa.Connection, schema: Schema, experiment_ids: Sequence[int], stages: Sequence[str]) -> bool:
    runs = schema.runs
    searched = conn.execute(
        sa.select(sa.func.count()).where(
            runs.c.experiment_id.in_(list(experiment_ids)), runs.c.lifecycle_stage.in_(list(stages))
        )
    ).scalar_one()
    if searched < LARGE_RUNS:
        return False
    # the store's runs, counted up to twice the searched ones: enough to tell "at least half"
    some = sa.select(sa.literal(1)).select_from(runs).limit(2 * searched + 1).subquery()
    store = conn.execute(sa.select(sa.func.count()).select_from(some)).scalar_one()
    return bool(store <= 2 * searched)


def hash_joins(
    conn: sa.Connection, schema: Schema, experiment_ids: Sequence[int], stages: Sequence[str]
) -> bool:
    """Whether the runs of ``experiment_ids`` in ``stages`` are at least :data:`LARGE_RUNS`
    and at least half of the store's: counted (two ``count(*)`` queries, each reading at
    most about twice the runs searched) once per :data:`RECHECK_S` per engine and set.
    ``conn`` must not be in a transaction; it is left without one."""
    key = (schema.runs.name, tuple(sorted(experiment_ids)), tuple(sorted(stages)))
    now = time.monotonic()
    known = _known.setdefault(conn.engine, {})
    hit = known.get(key)
    if hit is not None and now - hit[1] < RECHECK_S:
        return hit[0]
    try:
        large = _count(conn, schema, experiment_ids, stages)
    finally:
        conn.rollback()
    if len(known) >= _KEEP:
        known.clear()
    known[key] = (large, now)
    return large


def run_without_nested_loops(
    conn: sa.Connection, statement: str, parameters: dict[str, Any]
) -> Sequence[Any]:
    """Run a driver-level ``statement`` (psycopg's) with nested-loop joins off, in a
    transaction of its own (the setting ends with it), planned for these parameters each
    time: never a server-side prepared statement, whose generic plan (made after a few
    calls, blind to the experiment id) measured slower. ``conn`` must not be in a
    transaction."""
    dbapi: Any = conn.connection.dbapi_connection
    threshold = getattr(dbapi, "prepare_threshold", None)  # psycopg 3's; psycopg2 prepares nothing
    if threshold is not None:
        dbapi.prepare_threshold = None
    try:
        with conn.begin():
            conn.exec_driver_sql("SET LOCAL enable_nestloop = off")
            return conn.exec_driver_sql(_MARK + statement, parameters).fetchall()
    finally:
        if threshold is not None:
            dbapi.prepare_threshold = threshold
