"""``latest_metrics`` keeps room on each page for its rows' next versions (PostgreSQL).

Every ``log_batch`` and ``log_metric`` rewrites the latest row of each key it logs.
PostgreSQL writes a new version of the row: on the old version's page when that page
has room, with no index entry to add (a heap-only tuple, "HOT"), else on another page
with a new primary-key entry. At the default fillfactor of 100 the first inserts fill
each page, and about half the updates of a 1,000-key ``log_batch`` left their page.
With fillfactor 70, inserts and moved rows leave 30% of a page free and PostgreSQL
prunes the versions no one can see any more: 98% of updates were HOT and such a batch
took 14.1 instead of 16.7 ms (medians of 59 batches, docs/performance.md).

The setting applies to pages filled from now on; rows on pages already full move as
they are updated (``VACUUM FULL latest_metrics`` rewrites them at once, locking the
table while it runs). sqlite and MySQL/MariaDB have no per-table fill factor: nothing
changes there.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

#: The fill factor of ``latest_metrics`` on PostgreSQL (percent of a page inserts fill).
LATEST_METRICS_FILLFACTOR = 70


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE latest_metrics SET (fillfactor = {LATEST_METRICS_FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE latest_metrics RESET (fillfactor)")
