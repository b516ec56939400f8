"""Shared fixtures of tracklet-registry's tests (other test modules may add theirs)."""

from __future__ import annotations
