"""The schema creates on sqlite and enforces the keys the store relies on."""

from __future__ import annotations

import pathlib

import pytest
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.exc import IntegrityError  # noqa: E402

from tracklet_sql import _schema as s  # noqa: E402


def _engine(tmp_path: pathlib.Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    s.sqlite_conventions(s.metadata)  # the WITHOUT ROWID tables tracklet's migrations create
    s.metadata.create_all(engine)
    return engine


def test_creates_every_table(tmp_path: pathlib.Path):
    names = set(sa.inspect(_engine(tmp_path)).get_table_names())
    assert names == {t.name for t in s.metadata.sorted_tables}
    assert {"metrics", "latest_metrics", "inputs", "input_tags"} <= names


def test_metric_history_refuses_an_exact_duplicate(tmp_path: pathlib.Path):
    engine = _engine(tmp_path)
    with engine.begin() as conn:
        conn.execute(s.experiments.insert().values(name="e", lifecycle_stage="active"))
        conn.execute(
            s.runs.insert().values(run_uuid="r", experiment_id=1, status="RUNNING", lifecycle_stage="active")
        )
    row = {"run_uuid": "r", "key": "m", "value": 1.0, "nonfinite": s.FINITE, "timestamp": 5, "step": 0}
    with engine.begin() as conn:
        conn.execute(s.metrics.insert(), [row])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(s.metrics.insert(), [row])
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.metrics)).scalar() == 1
