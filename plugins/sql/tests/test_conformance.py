"""The core conformance suite on every database tracklet-sql serves.

sqlite gets a new file per test; PostgreSQL and MariaDB get one database per session,
emptied before each test (creating a database per test would triple the run time).
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from tracklet.testing import TrackingStoreSuite  # noqa: E402
from tracklet_sql.store import SqlStore  # noqa: E402


def _open(uri: str, tmp_path: pathlib.Path) -> Iterator[SqlStore]:
    store = SqlStore(uri, str(tmp_path / "artifacts"))
    yield store
    store.close()


class TestSqlite(TrackingStoreSuite):
    @pytest.fixture
    def store(self, tmp_path: pathlib.Path) -> Iterator[SqlStore]:
        yield from _open(f"sqlite:///{tmp_path / 'tracking.db'}", tmp_path)


class TestPostgres(TrackingStoreSuite):
    @pytest.fixture
    def store(self, empty_postgres_uri: str, tmp_path: pathlib.Path) -> Iterator[SqlStore]:
        yield from _open(empty_postgres_uri, tmp_path)


class TestMySQL(TrackingStoreSuite):
    @pytest.fixture
    def store(self, empty_mysql_uri: str, tmp_path: pathlib.Path) -> Iterator[SqlStore]:
        yield from _open(empty_mysql_uri, tmp_path)
