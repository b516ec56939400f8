"""The registry's initial schema: registered models, versions, tags, aliases, logged models.

A frozen copy of ``tracklet_registry.sql.schema`` as it was at this revision (later
changes to ``schema.py`` go in new revisions, never here).

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
_MYSQL: dict[str, Any] = {
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
    "mysql_engine": "InnoDB",
}
_CASCADE: dict[str, Any] = {"ondelete": "CASCADE"}
_NO_ROWID: dict[str, Any] = {"sqlite_with_rowid": False}


def _version_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["model_key", "version"], ["model_versions.model_key", "model_versions.version"], **_CASCADE
    )


def _logged_model_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["model_id"], ["logged_models.model_id"], **_CASCADE)


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("model_key", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_time", sa.BigInteger(), nullable=False),
        sa.Column("description", _LONG_TEXT, nullable=True),
        sa.Column("deployment_job_id", sa.String(length=256), nullable=True),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("model_key"),
        sa.UniqueConstraint("name"),
        **_MYSQL,
    )
    op.create_index("ix_registered_models_updated", "registered_models", ["last_updated_time"])
    op.create_table(
        "registered_model_tags",
        sa.Column("model_key", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", _LONG_TEXT, nullable=True),
        sa.ForeignKeyConstraint(["model_key"], ["registered_models.model_key"], **_CASCADE),
        sa.PrimaryKeyConstraint("model_key", "key"),
        **_NO_ROWID,
        **_MYSQL,
    )
    op.create_index("ix_registered_model_tags_key", "registered_model_tags", ["key"])
    op.create_table(
        "model_versions",
        sa.Column("model_key", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_time", sa.BigInteger(), nullable=False),
        sa.Column("description", _LONG_TEXT, nullable=True),
        sa.Column("user_id", sa.String(length=256), nullable=True),
        sa.Column("current_stage", sa.String(length=20), nullable=False),
        sa.Column("source", _LONG_TEXT, nullable=True),
        sa.Column("storage_location", _LONG_TEXT, nullable=True),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("run_link", _LONG_TEXT, nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_message", _LONG_TEXT, nullable=True),
        sa.Column("logged_model_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["model_key"], ["registered_models.model_key"], **_CASCADE),
        sa.PrimaryKeyConstraint("model_key", "version"),
        **_NO_ROWID,
        **_MYSQL,
    )
    op.create_index("ix_model_versions_stage", "model_versions", ["model_key", "current_stage", "version"])
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id", "last_updated_time"])
    op.create_index("ix_model_versions_updated", "model_versions", ["last_updated_time"])
    op.create_index("ix_model_versions_logged_model", "model_versions", ["logged_model_id"])
    op.create_table(
        "model_version_tags",
        sa.Column("model_key", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", _LONG_TEXT, nullable=True),
        _version_fk(),
        sa.PrimaryKeyConstraint("model_key", "version", "key"),
        **_NO_ROWID,
        **_MYSQL,
    )
    op.create_index("ix_model_version_tags_key", "model_version_tags", ["key"])
    op.create_table(
        "registered_model_aliases",
        sa.Column("model_key", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _version_fk(),
        sa.PrimaryKeyConstraint("model_key", "alias"),
        **_NO_ROWID,
        **_MYSQL,
    )
    op.create_table(
        "logged_models",
        sa.Column("model_id", sa.String(length=36), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("artifact_location", _LONG_TEXT, nullable=False),
        sa.Column("creation_timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("lifecycle_stage", sa.String(length=32), nullable=False),
        sa.Column("model_type", sa.String(length=500), nullable=True),
        sa.Column("source_run_id", sa.String(length=32), nullable=True),
        sa.Column("status_message", _LONG_TEXT, nullable=True),
        sa.PrimaryKeyConstraint("model_id"),
        **_MYSQL,
    )
    op.create_index(
        "ix_logged_models_experiment", "logged_models", ["experiment_id", "creation_timestamp_ms"]
    )
    op.create_index("ix_logged_models_source_run", "logged_models", ["source_run_id"])
    for table in ("logged_model_tags", "logged_model_params"):
        op.create_table(
            table,
            sa.Column("model_id", sa.String(length=36), nullable=False),
            sa.Column("key", sa.String(length=255), nullable=False),
            sa.Column("value", _LONG_TEXT, nullable=False),
            _logged_model_fk(),
            sa.PrimaryKeyConstraint("model_id", "key"),
            **_NO_ROWID,
            **_MYSQL,
        )
    op.create_table(
        "logged_model_metrics",
        sa.Column("model_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("nonfinite", sa.SmallInteger(), nullable=False),
        sa.Column("dataset_name", sa.String(length=500), nullable=True),
        sa.Column("dataset_digest", sa.String(length=36), nullable=True),
        _logged_model_fk(),
        sa.PrimaryKeyConstraint("model_id", "key", "timestamp", "step", "run_id"),
        **_NO_ROWID,
        **_MYSQL,
    )
    op.create_table(
        "logged_model_outputs",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        _logged_model_fk(),
        sa.PrimaryKeyConstraint("run_id", "model_id"),
        **_NO_ROWID,
        **_MYSQL,
    )
    op.create_index("ix_logged_model_outputs_model", "logged_model_outputs", ["model_id"])


def downgrade() -> None:
    for table in (
        "logged_model_outputs",
        "logged_model_metrics",
        "logged_model_params",
        "logged_model_tags",
        "logged_models",
        "registered_model_aliases",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
        "registered_models",
    ):
        op.drop_table(table)
