"""Traces: trace_info, trace_tags, trace_request_metadata and spans.

A frozen copy of the trace tables of ``tracklet_sql._schema`` as they were at this
revision (modelled on MLflow 3.17's SqlTraceInfo, SqlTraceTag, SqlTraceMetadata and
SqlSpan, with MLflow's column names). A database made before traces existed gets them
from ``tracklet db upgrade``; a new database gets them on first open.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_HUGE_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
_MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}
_CASCADE = {"ondelete": "CASCADE"}


def _key_value_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("request_id", sa.String(length=256), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.String(length=8000), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["trace_info.request_id"], **_CASCADE),
        sa.PrimaryKeyConstraint("request_id", "key"),
        sqlite_with_rowid=False,
        **_MYSQL,
    )
    # PostgreSQL: a b-tree entry holds at most ~2.7 kB, values go up to 8,000 characters
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(f"ix_{name}_key_value", name, ["key", "value"], mysql_length={"value": 255})


def upgrade() -> None:
    op.create_table(
        "trace_info",
        sa.Column("request_id", sa.String(length=256), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("execution_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("client_request_id", sa.String(length=250), nullable=True),
        sa.Column("request_preview", sa.String(length=1000), nullable=True),
        sa.Column("response_preview", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"], **_CASCADE),
        sa.PrimaryKeyConstraint("request_id"),
        **_MYSQL,
    )
    # the default order of search_traces: newest first, then by id
    op.create_index(
        "ix_trace_info_experiment_timestamp",
        "trace_info",
        ["experiment_id", sa.text("timestamp_ms DESC"), "request_id"],
    )
    _key_value_table("trace_tags")
    _key_value_table("trace_request_metadata")
    op.create_table(
        "spans",
        sa.Column("trace_id", sa.String(length=256), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("span_id", sa.String(length=50), nullable=False),
        sa.Column("parent_span_id", sa.String(length=50), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("type", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("start_time_unix_nano", sa.BigInteger(), nullable=False),
        sa.Column("end_time_unix_nano", sa.BigInteger(), nullable=True),
        sa.Column("duration_ns", sa.BigInteger(), nullable=True),
        sa.Column("content", _HUGE_TEXT, nullable=False),
        sa.ForeignKeyConstraint(["trace_id"], ["trace_info.request_id"], **_CASCADE),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"]),
        sa.PrimaryKeyConstraint("trace_id", "span_id"),
        **_MYSQL,
    )


def downgrade() -> None:
    for table in ("spans", "trace_request_metadata", "trace_tags", "trace_info"):
        op.drop_table(table)
