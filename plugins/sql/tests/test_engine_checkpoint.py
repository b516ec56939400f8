"""How often a sqlite file's write-ahead log is copied back into the database
(``tracklet_sql._engine``): every 4,000 pages, not sqlite's default 1,000, so that a run of
``log_batch`` calls rewriting the same pages pays for fewer checkpoints."""

from __future__ import annotations

import os
import pathlib

import sqlalchemy as sa

from tracklet_sql._engine import _SQLITE_WAL_AUTOCHECKPOINT_PAGES, make_engine

PAGE = 4096


def test_every_connection_checkpoints_at_the_engines_threshold(tmp_path: pathlib.Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with engine.connect() as first, engine.connect() as second:
            for conn in (first, second):
                pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
                assert pages == _SQLITE_WAL_AUTOCHECKPOINT_PAGES == 4000
    finally:
        engine.dispose()


def test_the_log_grows_past_sqlites_default_before_a_checkpoint(tmp_path: pathlib.Path) -> None:
    """3,000 pages written in small transactions stay in the log (with sqlite's 1,000 a
    checkpoint would have restarted it from its first page, keeping it near 1,000)."""
    path = tmp_path / "wal.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
            conn.commit()
            assert conn.exec_driver_sql("PRAGMA page_size").scalar() == PAGE
            for i in range(300):  # ~10 pages a transaction
                rows = [{"k": i * 10 + j, "v": os.urandom(PAGE - 200)} for j in range(10)]
                conn.execute(sa.text("INSERT INTO t (k, v) VALUES (:k, :v)"), rows)
                conn.commit()
        frames = (os.path.getsize(f"{path}-wal") - 32) // (PAGE + 24)
        assert frames > 2500
        with engine.connect() as conn:  # every row is there, read through the log
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 3000
    finally:
        engine.dispose()
