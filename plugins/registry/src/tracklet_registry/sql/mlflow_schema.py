"""MLflow's own registry tables, as MLflow's SQL store keeps them: detection and declarations.

A database created by MLflow (``mlflow server --backend-store-uri sqlite:///mlflow.db``,
or ``./mlflow.db`` since MLflow 3.7) records its schema revision in Alembic's default
table ``alembic_version`` and keys its registry rows by model *name* (plus, since MLflow
3.x, a ``workspace`` column, ``'default'`` outside multi-tenant servers), where
tracklet's own schema uses an integer ``model_key``. :class:`MlflowSchema` tells the two
apart from the tables themselves, never by importing tracklet-sql, and declares MLflow's
tables on a MetaData of their own: nothing here ever creates, alters or stamps a table.

Facts from MLflow 3.17.2's schema (``mlflow/store/model_registry/dbmodels/models.py``):
a deleted version stays as a row with stage ``Deleted_Internal`` and redacted fields, so
a version number is never given twice; ``model_versions`` has no ``model_id`` column and
``registered_models`` no ``deployment_job_id``; logged models keep ``experiment_id`` on
their tags, params and metrics rows, and a run's model inputs and outputs are rows of the
tracking ``inputs`` table (``RUN_INPUT -> MODEL_INPUT``, ``RUN_OUTPUT -> MODEL_OUTPUT``).
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import sqlalchemy as sa

from tracklet.exceptions import INVALID_STATE, TrackletException

__all__ = [
    "DEFAULT_WORKSPACE",
    "DELETED_STAGE",
    "MLFLOW_VERSION_TABLE",
    "MlflowTables",
    "detect_mlflow_schema",
    "mlflow_tables",
]

#: Alembic's default version table, which MLflow uses (tracklet's sets each have their own).
MLFLOW_VERSION_TABLE = "alembic_version"
#: The workspace MLflow writes outside multi-tenant servers.
DEFAULT_WORKSPACE = "default"
#: The stage MLflow gives a deleted version (the row stays, hidden from every read).
DELETED_STAGE = "Deleted_Internal"
_REQUIRED = {
    "registered_models": {"name", "creation_time", "last_updated_time", "description"},
    "model_versions": {"name", "version", "current_stage", "source", "run_id", "storage_location"},
    "registered_model_tags": {"name", "key", "value"},
    "model_version_tags": {"name", "version", "key", "value"},
    "registered_model_aliases": {"name", "alias", "version"},
}


@dataclasses.dataclass(frozen=True)
class MlflowTables:
    """MLflow's registry and logged-model tables, declared for reads and writes."""

    workspace: bool  # the registry tables have MLflow 3's ``workspace`` column
    registered_models: sa.Table
    model_versions: sa.Table
    registered_model_tags: sa.Table
    model_version_tags: sa.Table
    registered_model_aliases: sa.Table
    logged_models: sa.Table
    logged_model_tags: sa.Table
    logged_model_params: sa.Table
    logged_model_metrics: sa.Table
    inputs: sa.Table

    def in_workspace(self, table: sa.Table) -> list[sa.ColumnElement[bool]]:
        """The clause keeping rows of the default workspace (none before MLflow 3's column)."""
        return [table.c.workspace == DEFAULT_WORKSPACE] if self.workspace else []

    def row(self, **values: object) -> dict[str, object]:
        """``values`` with the workspace column when the schema has one."""
        return {"workspace": DEFAULT_WORKSPACE, **values} if self.workspace else dict(values)


def _workspace(with_it: bool) -> list[sa.Column[str]]:
    return [sa.Column("workspace", sa.String(63), nullable=False)] if with_it else []


@lru_cache(maxsize=2)
def mlflow_tables(workspace: bool) -> MlflowTables:
    """The declarations for a schema with (MLflow 3) or without the ``workspace`` columns."""
    md = sa.MetaData()
    rm = sa.Table(
        "registered_models",
        md,
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("creation_time", sa.BigInteger),
        sa.Column("last_updated_time", sa.BigInteger),
        sa.Column("description", sa.String(5000)),
        *_workspace(workspace),
    )
    mv = sa.Table(
        "model_versions",
        md,
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("creation_time", sa.BigInteger),
        sa.Column("last_updated_time", sa.BigInteger),
        sa.Column("description", sa.String(5000)),
        sa.Column("user_id", sa.String(256)),
        sa.Column("current_stage", sa.String(20)),
        sa.Column("source", sa.String(500)),
        sa.Column("run_id", sa.String(32)),
        sa.Column("status", sa.String(20)),
        sa.Column("status_message", sa.String(500)),
        sa.Column("run_link", sa.String(500)),
        sa.Column("storage_location", sa.String(500)),
        *_workspace(workspace),
    )
    rm_tags = sa.Table(
        "registered_model_tags",
        md,
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.String(5000)),
        sa.Column("name", sa.String(256), nullable=False),
        *_workspace(workspace),
    )
    mv_tags = sa.Table(
        "model_version_tags",
        md,
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        *_workspace(workspace),
    )
    aliases = sa.Table(
        "registered_model_aliases",
        md,
        sa.Column("alias", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        *_workspace(workspace),
    )
    return MlflowTables(workspace, rm, mv, rm_tags, mv_tags, aliases, *_logged_model_tables(md))


def _logged_model_tables(md: sa.MetaData) -> tuple[sa.Table, ...]:
    models = sa.Table(
        "logged_models",
        md,
        sa.Column("model_id", sa.String(36), primary_key=True),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("artifact_location", sa.String(1000), nullable=False),
        sa.Column("creation_timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("last_updated_timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("lifecycle_stage", sa.String(32)),
        sa.Column("model_type", sa.String(500)),
        sa.Column("source_run_id", sa.String(32)),
        sa.Column("status_message", sa.String(1000)),
    )
    tags = sa.Table(
        "logged_model_tags",
        md,
        sa.Column("model_id", sa.String(36), primary_key=True),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("tag_key", sa.String(255), primary_key=True),
        sa.Column("tag_value", sa.Text, nullable=False),
    )
    params = sa.Table(
        "logged_model_params",
        md,
        sa.Column("model_id", sa.String(36), primary_key=True),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("param_key", sa.String(255), primary_key=True),
        sa.Column("param_value", sa.Text, nullable=False),
    )
    metrics = sa.Table(
        "logged_model_metrics",
        md,
        sa.Column("model_id", sa.String(36), primary_key=True),
        sa.Column("metric_name", sa.String(500), primary_key=True),
        sa.Column("metric_timestamp_ms", sa.BigInteger, primary_key=True),
        sa.Column("metric_step", sa.BigInteger, primary_key=True),
        sa.Column("metric_value", sa.Float(precision=53)),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("dataset_uuid", sa.String(36)),
        sa.Column("dataset_name", sa.String(500)),
        sa.Column("dataset_digest", sa.String(36)),
    )
    inputs = sa.Table(
        "inputs",
        md,
        sa.Column("input_uuid", sa.String(36), nullable=False),
        sa.Column("source_type", sa.String(36), primary_key=True),
        sa.Column("source_id", sa.String(36), primary_key=True),
        sa.Column("destination_type", sa.String(36), primary_key=True),
        sa.Column("destination_id", sa.String(36), primary_key=True),
        sa.Column("step", sa.BigInteger, nullable=False),
    )
    return models, tags, params, metrics, inputs


def _revision(conn: sa.Connection) -> str:
    rows = conn.execute(sa.text(f"SELECT version_num FROM {MLFLOW_VERSION_TABLE}")).scalars().all()
    return ",".join(sorted(rows)) or "(none)"


def detect_mlflow_schema(engine: sa.Engine) -> MlflowTables | None:
    """MLflow's tables when the database holds MLflow's schema, None when it holds tracklet's.

    MLflow's schema is recognised by its ``alembic_version`` table together with a
    ``registered_models`` table keyed by name (tracklet's has ``model_key``).

    :raises TrackletException: ``INVALID_STATE`` when MLflow's registry tables lack columns
        this store needs (a revision older than MLflow 2.x's aliases), naming the revision
        and the command that upgrades it.
    """
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        tables = set(inspector.get_table_names())
        if MLFLOW_VERSION_TABLE not in tables or "registered_models" not in tables:
            return None
        columns = {t: {c["name"] for c in inspector.get_columns(t)} for t in _REQUIRED if t in tables}
        if "model_key" in columns.get("registered_models", set()):
            return None
        missing = sorted(
            f"{table}.{column}"
            for table, needed in _REQUIRED.items()
            for column in needed - columns.get(table, set())
        )
        if missing:
            where = engine.url.render_as_string(hide_password=True)
            raise TrackletException(
                f"The MLflow database {where} is at schema revision {_revision(conn)}, which lacks "
                f"{', '.join(missing)}: tracklet's registry reads MLflow 2.x-3.x registries with "
                f"model aliases. Upgrade it with MLflow first: mlflow db upgrade {where}",
                INVALID_STATE,
            )
        return mlflow_tables("workspace" in columns["registered_models"])
