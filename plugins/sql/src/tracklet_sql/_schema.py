"""The tables of tracklet-sql, on SQLAlchemy Core (column sizes follow tracklet.validation's limits).

Metric values: every dialect stores a float in ``value`` and the kind of number in
``nonfinite`` (:data:`FINITE`, :data:`NAN`, :data:`POS_INF`, :data:`NEG_INF`).
MySQL/MariaDB cannot hold NaN or infinities, so non-finite values are kept as a
stand-in that sorts right (0 for NaN, the largest double with its sign for ±inf)
and read back from ``nonfinite``; one encoding for all dialects keeps search and
history free of dialect branches.

On sqlite every table keyed by a run (or experiment) and a key is ``WITHOUT ROWID``:
clustered on its primary key, a lookup is one b-tree descent instead of an index
probe and a row fetch, which makes searches about 30% faster.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.ext.compiler import compiles

metadata = MetaData()

#: Values of the ``nonfinite`` column of ``metrics`` and ``latest_metrics``.
FINITE, NAN, POS_INF, NEG_INF = 0, 1, 2, 3
_MAX = sys.float_info.max


class MediumTextOnMySQL(Text):
    """TEXT, and MEDIUMTEXT on MySQL/MariaDB (:func:`_mysql_text`)."""


class LongTextOnMySQL(Text):
    """TEXT, and LONGTEXT on MySQL/MariaDB (:func:`_mysql_text`)."""


@compiles(MediumTextOnMySQL, "mysql")
@compiles(MediumTextOnMySQL, "mariadb")
@compiles(LongTextOnMySQL, "mysql")
@compiles(LongTextOnMySQL, "mariadb")
def _mysql_text(type_: Text, compiler: Any, **kw: Any) -> str:
    # The type's own DDL, not Text().with_variant(mysql.MEDIUMTEXT(), ...): naming the MySQL
    # type imports SQLAlchemy's MySQL dialect (~15 ms) in every process, sqlite's included.
    return "MEDIUMTEXT" if isinstance(type_, MediumTextOnMySQL) else "LONGTEXT"


# Long text: TEXT holds 65,535 bytes on MySQL, too few for 20,000 utf8mb4 characters.
LongText = MediumTextOnMySQL


def encode_value(value: float) -> tuple[float, int]:
    """``(stored value, nonfinite)`` for a metric value."""
    if math.isfinite(value):
        return value, FINITE
    if math.isnan(value):
        return 0.0, NAN
    return (_MAX, POS_INF) if value > 0 else (-_MAX, NEG_INF)


_DECODED = {NAN: math.nan, POS_INF: math.inf, NEG_INF: -math.inf}


def decode_value(value: float, nonfinite: int) -> float:
    """The metric value a stored ``(value, nonfinite)`` pair stands for."""
    return value if not nonfinite else _DECODED[nonfinite]


_CASCADE = {"ondelete": "CASCADE"}
# MySQL/MariaDB: full Unicode, and a binary collation so `=`, LIKE and ORDER BY behave as on
# the other dialects (case-sensitive, code-point order) instead of utf8mb4_general_ci's.
# tracklet's migrations create the tables with them; mysql_conventions() gives them to this
# metadata for whoever creates it directly on MySQL. Not Table()'s arguments: a ``mysql_*``
# argument makes SQLAlchemy load its MySQL dialect (~15 ms) in every process, a sqlite
# user's included.
MYSQL_TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}
# Indexed prefix of long values (an InnoDB key holds 3,072 bytes), by index name.
_MYSQL_INDEX_LENGTHS = {
    "ix_trace_tags_key_value": {"value": 255},
    "ix_trace_request_metadata_key_value": {"value": 255},
}


def mysql_conventions(metadata_: MetaData) -> None:
    """Give every table of ``metadata_`` :data:`MYSQL_TABLE_OPTIONS` and its indexes their
    MySQL prefix lengths; call it before creating the tables from ``metadata_`` on
    MySQL/MariaDB (it loads SQLAlchemy's MySQL dialect). Calling it again changes nothing."""
    for table in metadata_.tables.values():
        table.dialect_kwargs.update(MYSQL_TABLE_OPTIONS)
        for index in table.indexes:
            length = _MYSQL_INDEX_LENGTHS.get(str(index.name))
            if length is not None:
                index.dialect_kwargs["mysql_length"] = length


#: The ``Table.info`` key marking the tables whose primary key is their b-tree on sqlite
#: (``WITHOUT ROWID``). sqlite_conventions() gives them ``sqlite_with_rowid=False``, not
#: Table(), for the reason of the MySQL options: a ``sqlite_*`` argument makes SQLAlchemy
#: load its sqlite dialect in every process, a PostgreSQL user's included. tracklet's
#: migrations create these tables WITHOUT ROWID on sqlite themselves.
_WITHOUT_ROWID = "sqlite_without_rowid"


def sqlite_conventions(metadata_: MetaData) -> None:
    """Make the tables marked :data:`_WITHOUT_ROWID` ``WITHOUT ROWID`` tables; call it
    before creating the tables from ``metadata_`` on sqlite (it loads SQLAlchemy's sqlite
    dialect). Calling it again changes nothing."""
    for table in metadata_.tables.values():
        if table.info.get(_WITHOUT_ROWID):
            table.dialect_kwargs["sqlite_with_rowid"] = False


experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("artifact_location", Text),
    Column("lifecycle_stage", String(32), nullable=False),
    Column("creation_time", BigInteger),
    Column("last_update_time", BigInteger),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id", **_CASCADE)),
    Column("key", String(250), nullable=False),
    Column("value", LongText),
    PrimaryKeyConstraint("experiment_id", "key"),
    info={_WITHOUT_ROWID: True},
)

runs = Table(
    "runs",
    metadata,
    Column("run_uuid", String(32), primary_key=True),
    Column("name", String(250)),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id")),
    Column("user_id", String(256)),
    Column("status", String(9), nullable=False),
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
    Column("lifecycle_stage", String(20), nullable=False),
    Column("artifact_uri", Text),
    Column("deleted_time", BigInteger),
    info={_WITHOUT_ROWID: True},
)
# The default order of a run search (start_time DESC with NULL last, then run_uuid in
# code-point order) as an index (revision 0003), so a page of it is an index range after
# the previous page's last row, not a sort of the experiment (tracklet_sql._search_keyset).
# sqlite puts NULL last in a DESC index by itself; PostgreSQL is told, and compares ids in
# "C" order. MySQL/MariaDB keep revision 0001's index, which InnoDB ends with the primary
# key: (experiment_id, lifecycle_stage, start_time, run_uuid).
NEWEST_RUNS_INDEX = "ix_runs_experiment_stage_newest"
Index(
    NEWEST_RUNS_INDEX, runs.c.experiment_id, runs.c.lifecycle_stage, runs.c.start_time.desc(), runs.c.run_uuid
).ddl_if(dialect="sqlite")
Index(
    NEWEST_RUNS_INDEX,
    runs.c.experiment_id,
    runs.c.lifecycle_stage,
    runs.c.start_time.desc().nulls_last(),
    runs.c.run_uuid.collate("C"),
).ddl_if(dialect="postgresql")
Index(
    "ix_runs_experiment_stage_start", runs.c.experiment_id, runs.c.lifecycle_stage, runs.c.start_time
).ddl_if(dialect=("mysql", "mariadb"))

params = Table(
    "params",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", **_CASCADE)),
    Column("key", String(250), nullable=False),
    Column("value", String(8000), nullable=False),
    PrimaryKeyConstraint("run_uuid", "key"),
    info={_WITHOUT_ROWID: True},
)

tags = Table(
    "tags",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", **_CASCADE)),
    Column("key", String(250), nullable=False),
    Column("value", LongText),
    PrimaryKeyConstraint("run_uuid", "key"),
    info={_WITHOUT_ROWID: True},
)

# History. The primary key is the whole point, in reading order: a history read is one
# range scan (clustered on sqlite, where the table has no rowid, and on InnoDB), and a
# re-sent point is an insert-if-absent, not a duplicate.
metrics = Table(
    "metrics",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", **_CASCADE), nullable=False),
    Column("key", String(250), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("nonfinite", SmallInteger, nullable=False, default=FINITE),
    PrimaryKeyConstraint("run_uuid", "key", "step", "timestamp", "value", "nonfinite", name="pk_metrics"),
    info={_WITHOUT_ROWID: True},
)

# One row per (run, key), kept in the write's transaction: the point with the largest
# step, then timestamp, then value. On PostgreSQL its pages are filled to 70% (revision
# 0004, which says why; set there rather than here because SQLAlchemy 2.0 has no
# ``postgresql_with`` for tables).
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", **_CASCADE)),
    Column("key", String(250), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("nonfinite", SmallInteger, nullable=False, default=FINITE),
    PrimaryKeyConstraint("run_uuid", "key"),
    info={_WITHOUT_ROWID: True},
)

datasets = Table(
    "datasets",
    metadata,
    Column("dataset_uuid", String(36), nullable=False, unique=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id", **_CASCADE)),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("dataset_source_type", String(36), nullable=False),
    Column("dataset_source", LongText, nullable=False),
    Column("dataset_schema", LongText),
    Column("dataset_profile", LongText),
    PrimaryKeyConstraint("experiment_id", "name", "digest"),
)

inputs = Table(
    "inputs",
    metadata,
    Column("input_uuid", String(36), nullable=False, unique=True),
    Column("source_type", String(36), nullable=False),
    Column("source_id", String(36), nullable=False),
    Column("destination_type", String(36), nullable=False),
    Column("destination_id", String(36), nullable=False),
    PrimaryKeyConstraint("source_type", "source_id", "destination_type", "destination_id"),
    Index("ix_inputs_destination", "destination_type", "destination_id"),
)

input_tags = Table(
    "input_tags",
    metadata,
    Column("input_uuid", String(36), ForeignKey("inputs.input_uuid", **_CASCADE)),
    Column("name", String(255), nullable=False),
    Column("value", String(500), nullable=False),
    PrimaryKeyConstraint("input_uuid", "name"),
    info={_WITHOUT_ROWID: True},
)

# -- traces (revision 0002), modelled on MLflow 3.17's SqlTraceInfo, SqlTraceTag,
# SqlTraceMetadata and SqlSpan, with MLflow's column names ----------------------------------

# Span payloads can be large: LONGTEXT on MySQL (MEDIUMTEXT stops at 16 MiB), as MLflow.
HugeText = LongTextOnMySQL
#: Dialects given the (key, value) index of trace tags and metadata. PostgreSQL is left out:
#: a b-tree entry holds at most ~2.7 kB and values go up to 8,000 characters; its lookups
#: use the primary key and the (key) prefix of nothing else (the tables are small per key).
VALUE_INDEX_DIALECTS = ("sqlite", "mysql", "mariadb")

trace_info = Table(
    "trace_info",
    metadata,
    Column("request_id", String(256), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id", **_CASCADE), nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("execution_time_ms", BigInteger),
    Column("status", String(50), nullable=False),
    Column("client_request_id", String(250)),
    Column("request_preview", String(1000)),
    Column("response_preview", String(1000)),
)
# the default order of search_traces: newest first, then by id
Index(
    "ix_trace_info_experiment_timestamp",
    trace_info.c.experiment_id,
    trace_info.c.timestamp_ms.desc(),
    trace_info.c.request_id,
)

trace_tags = Table(
    "trace_tags",
    metadata,
    Column("request_id", String(256), ForeignKey("trace_info.request_id", **_CASCADE)),
    Column("key", String(250), nullable=False),
    Column("value", String(8000)),
    PrimaryKeyConstraint("request_id", "key"),
    Index("ix_trace_tags_key_value", "key", "value").ddl_if(dialect=VALUE_INDEX_DIALECTS),
    info={_WITHOUT_ROWID: True},
)

trace_request_metadata = Table(
    "trace_request_metadata",
    metadata,
    Column("request_id", String(256), ForeignKey("trace_info.request_id", **_CASCADE)),
    Column("key", String(250), nullable=False),
    Column("value", String(8000)),
    PrimaryKeyConstraint("request_id", "key"),
    Index("ix_trace_request_metadata_key_value", "key", "value").ddl_if(dialect=VALUE_INDEX_DIALECTS),
    info={_WITHOUT_ROWID: True},
)

spans = Table(
    "spans",
    metadata,
    Column("trace_id", String(256), ForeignKey("trace_info.request_id", **_CASCADE), nullable=False),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("span_id", String(50), nullable=False),
    Column("parent_span_id", String(50)),
    Column("name", Text),
    Column("type", String(500)),
    Column("status", String(50), nullable=False),
    Column("start_time_unix_nano", BigInteger, nullable=False),
    Column("end_time_unix_nano", BigInteger),
    Column("duration_ns", BigInteger),  # end - start, written with the row; NULL while running
    Column("content", HugeText, nullable=False),  # json of Span.to_dict()
    PrimaryKeyConstraint("trace_id", "span_id"),
)
