"""The schemes tracklet-sql declares through the ``tracklet_schemes`` hook."""

from __future__ import annotations

from tracklet_sql import plugin  # noqa: E402


def test_declares_tracking_store_for_each_sql_scheme():
    schemes = plugin.tracklet_schemes()
    assert {(s.kind, s.scheme) for s in schemes} == {
        ("tracking", "sqlite"),
        ("tracking", "postgresql"),
        ("tracking", "mysql"),
    }
    assert {s.target for s in schemes} == {"tracklet_sql.store:SqlStore"}
