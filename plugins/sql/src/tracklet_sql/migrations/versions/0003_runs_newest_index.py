"""The index of a run search's default order: start_time DESC (NULL last), then run_uuid.

On sqlite and PostgreSQL, revision 0001's ``ix_runs_experiment_stage_start``
(experiment_id, lifecycle_stage, start_time) is replaced by
``ix_runs_experiment_stage_newest`` (experiment_id, lifecycle_stage, start_time DESC,
run_uuid), so that a page of runs in the default order is an index range starting
after the previous page's last row instead of a sort of the whole experiment.
PostgreSQL is told to put NULL last and to compare ids in "C" (code-point) order, as the
search does. MySQL/MariaDB keep the 0001 index: InnoDB ends it with the primary key, so
it already reads (experiment_id, lifecycle_stage, start_time, run_uuid), and MariaDB has
no NULLS LAST.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_OLD = "ix_runs_experiment_stage_start"
_NEW = "ix_runs_experiment_stage_newest"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        columns = ["experiment_id", "lifecycle_stage", sa.text("start_time DESC"), "run_uuid"]
    elif dialect == "postgresql":
        columns = [
            "experiment_id",
            "lifecycle_stage",
            sa.text("start_time DESC NULLS LAST"),
            sa.text('run_uuid COLLATE "C"'),
        ]
    else:
        return
    op.drop_index(_OLD, table_name="runs")
    op.create_index(_NEW, "runs", columns)


def downgrade() -> None:
    if op.get_bind().dialect.name not in ("sqlite", "postgresql"):
        return
    op.drop_index(_NEW, table_name="runs")
    op.create_index(_OLD, "runs", ["experiment_id", "lifecycle_stage", "start_time"])
