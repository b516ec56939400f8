"""Kept for old imports: :func:`now_ms` lives in :mod:`tracklet.utils.time`."""

from tracklet.utils.time import now_ms as now_ms

__all__ = ["now_ms"]
