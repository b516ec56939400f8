"""The two schemas a SqlStore serves: tracklet's own and MLflow's, as one object each.

Every module that builds statements takes a :class:`Schema` and caches what it builds per
schema (``functools.cache`` keyed by the schema object, which hashes by identity), so
tracklet's schema runs the very statements it ran before, built once, and MLflow's gets
its own. What is not just a table differs here, in one place:

* metric values: tracklet stores a kind of number in ``nonfinite`` (finite, NaN, ±inf)
  and reads infinities back; MLflow stores a boolean ``is_nan`` (NaN as 0 and true), ±inf
  as ±DBL_MAX with ``is_nan`` false, and reads ±DBL_MAX back, so a store on MLflow's tables
  does as MLflow does (:meth:`Schema.encode_value`, :meth:`Schema.decode_value`, and the
  SQL tests of :meth:`Schema.is_finite` ... used by search);
* the run columns only MLflow has (:attr:`Schema.run_defaults`, MLflow's own values);
* whether the store may create tables (:attr:`Schema.owns_ddl`: never on MLflow's).

MLflow's tables (:mod:`tracklet_sql._mlflow_schema`) are imported only when a database
turns out to be MLflow's.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

from . import _schema as t
from ._mlflow_revisions import ANALYTICS, SPANS, position

__all__ = ["MLFLOW", "TRACKLET", "Schema", "mlflow_schema", "tracklet_schema"]

_MAX = sys.float_info.max


@dataclasses.dataclass(frozen=True, eq=False)
class Schema:
    """The tables of one schema and how values are stored in them (tracklet's base
    behaviour; :class:`_MlflowSchema` overrides what MLflow does differently)."""

    name: str
    experiments: sa.Table
    experiment_tags: sa.Table
    runs: sa.Table
    params: sa.Table
    tags: sa.Table
    metrics: sa.Table
    latest_metrics: sa.Table
    datasets: sa.Table
    inputs: sa.Table
    input_tags: sa.Table
    trace_info: sa.Table
    trace_tags: sa.Table
    trace_request_metadata: sa.Table
    spans: sa.Table
    #: Whether tracklet may create and upgrade these tables.
    owns_ddl: bool = True
    #: Values of the columns only this schema's ``runs`` has, as its own store writes them.
    run_defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: The Alembic revision the database is at (MLflow's schema), or None.
    revision: str | None = None
    #: Whether traces (with their spans) can be stored.
    has_traces: bool = True
    #: The ``trace_info`` column holding the trace tag ``mlflow.traceName`` (MLflow keeps it
    #: there, not among the tags), or None when it is a tag like the others.
    trace_name_column: str | None = None
    #: Whether ``trace_info`` holds MLflow's promoted metadata (:mod:`tracklet_sql._mlflow_traces`).
    promoted_metadata: bool = False

    # -- metric values ----------------------------------------------------------------------

    #: ``(stored value, nonfinite)`` for a metric value.
    encode_value = staticmethod(t.encode_value)
    #: The metric value a stored ``(value, nonfinite)`` pair stands for.
    decode_value = staticmethod(t.decode_value)

    # -- the same tests in SQL, for search ---------------------------------------------------

    def is_finite(self, nonfinite: ColumnElement[Any]) -> ColumnElement[bool]:
        return nonfinite == t.FINITE

    def is_nan(self, nonfinite: ColumnElement[Any]) -> ColumnElement[bool]:
        return nonfinite == t.NAN

    def is_infinite(self, nonfinite: ColumnElement[Any], positive: bool) -> ColumnElement[bool]:
        return nonfinite == (t.POS_INF if positive else t.NEG_INF)

    def not_infinite(self, nonfinite: ColumnElement[Any], positive: bool) -> ColumnElement[bool]:
        return nonfinite != (t.POS_INF if positive else t.NEG_INF)

    def finite_or_infinite(self, nonfinite: ColumnElement[Any], positive: bool) -> ColumnElement[bool]:
        """Finite, or the infinity of that sign (neither NaN nor the other infinity)."""
        return nonfinite.in_([t.FINITE, t.POS_INF if positive else t.NEG_INF])

    def not_nan(self, nonfinite: ColumnElement[Any]) -> ColumnElement[bool]:
        return nonfinite != t.NAN

    def check_length(self, dialect: str, column: sa.Column[Any], value: str | None, what: str) -> None:
        """Refuse a value longer than a narrower column of this schema holds, where the
        database enforces lengths (PostgreSQL, MySQL; sqlite stores any length, as MLflow's
        store does there). tracklet's own columns hold what tracklet's validation allows."""
        if self.owns_ddl or dialect == "sqlite" or value is None:
            return
        limit = getattr(column.type, "length", None)
        if limit is not None and len(value) > limit:
            raise TrackletException(
                f"{what} has {len(value)} characters; MLflow's database holds at most {limit} in "
                f"{column.table.name}.{column.name} (MLflow's own store refuses it too). Use a "
                "shorter one, or migrate to tracklet's schema (tracklet migrate), which holds more.",
                INVALID_PARAMETER_VALUE,
            )


@dataclasses.dataclass(frozen=True, eq=False)
class _MlflowSchema(Schema):
    """MLflow's tables: ``is_nan`` instead of a kind of number, no stored infinities."""

    @staticmethod
    def encode_value(value: float) -> tuple[float, Any]:
        if math.isfinite(value):
            return value, False
        if math.isnan(value):
            return 0.0, True
        return (_MAX if value > 0 else -_MAX), False

    @staticmethod
    def decode_value(value: float, nonfinite: Any) -> float:
        return math.nan if nonfinite else value

    def is_finite(self, nonfinite: ColumnElement[Any]) -> ColumnElement[bool]:
        return nonfinite == sa.false()

    def is_nan(self, nonfinite: ColumnElement[Any]) -> ColumnElement[bool]:
        return nonfinite == sa.true()

    def is_infinite(self, nonfinite: ColumnElement[Any], positive: bool) -> ColumnElement[bool]:
        return sa.false()

    def not_infinite(self, nonfinite: ColumnElement[Any], positive: bool) -> ColumnElement[bool]:
        return sa.true()

    def finite_or_infinite(self, nonfinite: ColumnElement[Any], positive: bool) -> ColumnElement[bool]:
        return nonfinite == sa.false()

    def not_nan(self, nonfinite: ColumnElement[Any]) -> ColumnElement[bool]:
        return nonfinite == sa.false()


_TABLES = (
    "experiments",
    "experiment_tags",
    "runs",
    "params",
    "tags",
    "metrics",
    "latest_metrics",
    "datasets",
    "inputs",
    "input_tags",
    "trace_info",
    "trace_tags",
    "trace_request_metadata",
    "spans",
)

TRACKLET = "tracklet"
MLFLOW = "mlflow"

#: What MLflow's SQL store writes in the run columns tracklet has no use for.
MLFLOW_RUN_DEFAULTS = {
    "source_type": "UNKNOWN",
    "source_name": "",
    "entry_point_name": "",
    "source_version": "",
}


def _tables(metadata: sa.MetaData) -> dict[str, Any]:
    return {name: metadata.tables[name] for name in _TABLES}


@cache
def tracklet_schema() -> Schema:
    """tracklet's own schema (:mod:`tracklet_sql._schema`)."""
    return Schema(TRACKLET, **_tables(t.metadata))


@cache
def mlflow_schema(revision: str) -> Schema:
    """MLflow's schema at ``revision`` (one of :data:`tracklet_sql._mlflow_revisions.REVISIONS`).

    Its tables are built here, on first use: a process on tracklet's own database never
    pays for them (~30 ms of CPU of a new process's first call, measured on a busy machine).
    """
    from . import _mlflow_schema as m

    spans_at = position(SPANS)
    at = position(revision)
    analytics = at is not None and at >= (position(ANALYTICS) or 0)
    return _MlflowSchema(
        MLFLOW,
        **_tables(m.metadata),
        owns_ddl=False,
        run_defaults=MLFLOW_RUN_DEFAULTS,
        revision=revision,
        has_traces=at is not None and spans_at is not None and at >= spans_at,
        # before that revision, MLflow kept the name as a tag like the others
        trace_name_column="trace_name" if analytics else None,
        promoted_metadata=analytics,
    )
