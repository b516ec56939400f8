"""Kept for old imports: the tag names live in :mod:`tracklet.utils.mlflow_tags`."""

from tracklet.utils.mlflow_tags import *  # noqa: F403
from tracklet.utils.mlflow_tags import __all__ as __all__
