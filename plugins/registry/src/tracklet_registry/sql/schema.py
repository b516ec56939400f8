"""The tables of the SQL registry store, on SQLAlchemy Core.

Conventions are tracklet-sql's: timestamps are BIGINT milliseconds, long text is
MEDIUMTEXT on MySQL, and MySQL/MariaDB tables are utf8mb4 with a binary collation so
names compare case-sensitively and order by code point, as on the other dialects
(lookups also compare the bytes, since ``utf8mb4_bin`` ignores trailing spaces; its
unique index still does, so on MySQL two model names differing only in trailing spaces
cannot both exist: the second is refused as taken).

A registered model has an integer surrogate key (``model_key``) that every other table
refers to, so a rename changes one row and a delete cascades through the foreign keys.
``last_version`` is the model's version counter: a new version takes
``last_version + 1`` under the row lock of that update, so concurrent writers get
1, 2, 3, ... without gaps or duplicates, and a deleted version's number is never reused
(as MLflow, which keeps deleted versions as hidden rows).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import mysql

__all__ = [
    "logged_model_metrics",
    "logged_model_outputs",
    "logged_model_params",
    "logged_model_tags",
    "logged_models",
    "metadata",
    "model_version_tags",
    "model_versions",
    "registered_model_aliases",
    "registered_model_tags",
    "registered_models",
]

metadata = MetaData()

# Long text: TEXT holds 65,535 bytes on MySQL, too few for long utf8mb4 values.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
_CASCADE: dict[str, Any] = {"ondelete": "CASCADE"}
_MYSQL: dict[str, Any] = {
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
    "mysql_engine": "InnoDB",
}

registered_models = Table(
    "registered_models",
    metadata,
    Column("model_key", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", LongText),
    Column("deployment_job_id", String(256)),
    Column("last_version", Integer, nullable=False, default=0),
    Index("ix_registered_models_updated", "last_updated_time"),
    **_MYSQL,
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("model_key", Integer, ForeignKey("registered_models.model_key", **_CASCADE)),
    Column("key", String(250), nullable=False),
    Column("value", LongText),
    PrimaryKeyConstraint("model_key", "key"),
    # finds the few models a key marks (the prompt marker) without reading the others
    Index("ix_registered_model_tags_key", "key"),
    sqlite_with_rowid=False,
    **_MYSQL,
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("model_key", Integer, ForeignKey("registered_models.model_key", **_CASCADE)),
    Column("version", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", LongText),
    Column("user_id", String(256)),
    Column("current_stage", String(20), nullable=False),
    Column("source", LongText),
    Column("storage_location", LongText),
    Column("run_id", String(32)),
    Column("run_link", LongText),
    Column("status", String(20), nullable=False),
    Column("status_message", LongText),
    Column("logged_model_id", String(36)),
    PrimaryKeyConstraint("model_key", "version"),
    # get_latest_versions: the largest version per stage is one index seek each
    Index("ix_model_versions_stage", "model_key", "current_stage", "version"),
    # run_id filters: the index also holds the default order's first key, so a search
    # sorts index entries without reading the rows
    Index("ix_model_versions_run_id", "run_id", "last_updated_time"),
    Index("ix_model_versions_updated", "last_updated_time"),
    Index("ix_model_versions_logged_model", "logged_model_id"),
    sqlite_with_rowid=False,
    **_MYSQL,
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("model_key", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", LongText),
    PrimaryKeyConstraint("model_key", "version", "key"),
    Index("ix_model_version_tags_key", "key"),
    ForeignKeyConstraint(
        ["model_key", "version"], ["model_versions.model_key", "model_versions.version"], **_CASCADE
    ),
    sqlite_with_rowid=False,
    **_MYSQL,
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column("model_key", Integer, nullable=False),
    Column("alias", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("model_key", "alias"),
    ForeignKeyConstraint(
        ["model_key", "version"], ["model_versions.model_key", "model_versions.version"], **_CASCADE
    ),
    sqlite_with_rowid=False,
    **_MYSQL,
)

# Logged models (MLflow 3's LoggedModel): kept beside the tracking tables of the same
# database. experiment_id names a tracking experiment; no foreign key, because the
# experiments table belongs to tracklet-sql's own migration set.
logged_models = Table(
    "logged_models",
    metadata,
    Column("model_id", String(36), primary_key=True),
    Column("experiment_id", Integer, nullable=False),
    Column("name", String(500), nullable=False),
    Column("artifact_location", LongText, nullable=False),
    Column("creation_timestamp_ms", BigInteger, nullable=False),
    Column("last_updated_timestamp_ms", BigInteger, nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("lifecycle_stage", String(32), nullable=False),
    Column("model_type", String(500)),
    Column("source_run_id", String(32)),
    Column("status_message", LongText),
    Index("ix_logged_models_experiment", "experiment_id", "creation_timestamp_ms"),
    Index("ix_logged_models_source_run", "source_run_id"),
    **_MYSQL,
)

logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    Column("model_id", String(36), ForeignKey("logged_models.model_id", **_CASCADE)),
    Column("key", String(255), nullable=False),
    Column("value", LongText, nullable=False),
    PrimaryKeyConstraint("model_id", "key"),
    sqlite_with_rowid=False,
    **_MYSQL,
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    Column("model_id", String(36), ForeignKey("logged_models.model_id", **_CASCADE)),
    Column("key", String(255), nullable=False),
    Column("value", LongText, nullable=False),
    PrimaryKeyConstraint("model_id", "key"),
    sqlite_with_rowid=False,
    **_MYSQL,
)

# Metrics a run logged against a logged model (MLflow's log_metric(..., model_id=...)).
# Non-finite values are kept as tracklet-sql keeps them (MySQL has no NaN or infinity):
# ``value`` holds a stand-in and ``nonfinite`` says which (0 finite, 1 NaN, 2 +inf, 3 -inf).
logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column("model_id", String(36), ForeignKey("logged_models.model_id", **_CASCADE)),
    Column("key", String(250), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("nonfinite", SmallInteger, nullable=False, default=0),
    Column("dataset_name", String(500)),
    Column("dataset_digest", String(36)),
    PrimaryKeyConstraint("model_id", "key", "timestamp", "step", "run_id"),
    sqlite_with_rowid=False,
    **_MYSQL,
)

# Runs' outputs (MLflow's log_outputs): the logged models a run produced, once each.
logged_model_outputs = Table(
    "logged_model_outputs",
    metadata,
    Column("run_id", String(32), nullable=False),
    Column("model_id", String(36), ForeignKey("logged_models.model_id", **_CASCADE)),
    Column("step", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_id", "model_id"),
    Index("ix_logged_model_outputs_model", "model_id"),
    sqlite_with_rowid=False,
    **_MYSQL,
)
