"""The initial schema: every table, key and index of tracklet-sql 0.1.

A frozen copy of ``tracklet_sql._schema`` as it was at this revision (later changes to
``_schema.py`` go in new revisions, never here).

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Long text: TEXT holds 65,535 bytes on MySQL, too few for 20,000 utf8mb4 characters.
_LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
# MySQL/MariaDB: full Unicode with a binary (case-sensitive, code-point order) collation.
_MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}
_CASCADE = {"ondelete": "CASCADE"}


def _run_uuid_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["run_uuid"], ["runs.run_uuid"], **_CASCADE)


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("artifact_location", sa.Text(), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=32), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=True),
        sa.Column("last_update_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("experiment_id"),
        sa.UniqueConstraint("name"),
        **_MYSQL,
    )
    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", _LONG_TEXT, nullable=True),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"], **_CASCADE),
        sa.PrimaryKeyConstraint("experiment_id", "key"),
        sqlite_with_rowid=False,
        **_MYSQL,
    )
    op.create_table(
        "runs",
        sa.Column("run_uuid", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=True),
        sa.Column("experiment_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.String(length=256), nullable=True),
        sa.Column("status", sa.String(length=9), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=True),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=20), nullable=False),
        sa.Column("artifact_uri", sa.Text(), nullable=True),
        sa.Column("deleted_time", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"]),
        sa.PrimaryKeyConstraint("run_uuid"),
        sqlite_with_rowid=False,
        **_MYSQL,
    )
    op.create_index(
        "ix_runs_experiment_stage_start", "runs", ["experiment_id", "lifecycle_stage", "start_time"]
    )
    op.create_table(
        "params",
        sa.Column("run_uuid", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.String(length=8000), nullable=False),
        _run_uuid_fk(),
        sa.PrimaryKeyConstraint("run_uuid", "key"),
        sqlite_with_rowid=False,
        **_MYSQL,
    )
    op.create_table(
        "tags",
        sa.Column("run_uuid", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", _LONG_TEXT, nullable=True),
        _run_uuid_fk(),
        sa.PrimaryKeyConstraint("run_uuid", "key"),
        sqlite_with_rowid=False,
        **_MYSQL,
    )
    op.create_table(
        "metrics",
        sa.Column("run_uuid", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("nonfinite", sa.SmallInteger(), nullable=False),
        _run_uuid_fk(),
        sa.PrimaryKeyConstraint(
            "run_uuid", "key", "step", "timestamp", "value", "nonfinite", name="pk_metrics"
        ),
        sqlite_with_rowid=False,
        **_MYSQL,
    )
    op.create_table(
        "latest_metrics",
        sa.Column("run_uuid", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("nonfinite", sa.SmallInteger(), nullable=False),
        _run_uuid_fk(),
        sa.PrimaryKeyConstraint("run_uuid", "key"),
        sqlite_with_rowid=False,
        **_MYSQL,
    )
    op.create_table(
        "datasets",
        sa.Column("dataset_uuid", sa.String(length=36), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("digest", sa.String(length=36), nullable=False),
        sa.Column("dataset_source_type", sa.String(length=36), nullable=False),
        sa.Column("dataset_source", _LONG_TEXT, nullable=False),
        sa.Column("dataset_schema", _LONG_TEXT, nullable=True),
        sa.Column("dataset_profile", _LONG_TEXT, nullable=True),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"], **_CASCADE),
        sa.PrimaryKeyConstraint("experiment_id", "name", "digest"),
        sa.UniqueConstraint("dataset_uuid"),
        **_MYSQL,
    )
    op.create_table(
        "inputs",
        sa.Column("input_uuid", sa.String(length=36), nullable=False),
        sa.Column("source_type", sa.String(length=36), nullable=False),
        sa.Column("source_id", sa.String(length=36), nullable=False),
        sa.Column("destination_type", sa.String(length=36), nullable=False),
        sa.Column("destination_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("source_type", "source_id", "destination_type", "destination_id"),
        sa.UniqueConstraint("input_uuid"),
        **_MYSQL,
    )
    op.create_index("ix_inputs_destination", "inputs", ["destination_type", "destination_id"])
    op.create_table(
        "input_tags",
        sa.Column("input_uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["input_uuid"], ["inputs.input_uuid"], **_CASCADE),
        sa.PrimaryKeyConstraint("input_uuid", "name"),
        sqlite_with_rowid=False,
        **_MYSQL,
    )


def downgrade() -> None:
    for table in (
        "input_tags",
        "inputs",
        "datasets",
        "latest_metrics",
        "metrics",
        "tags",
        "params",
        "runs",
        "experiment_tags",
        "experiments",
    ):
        op.drop_table(table)
