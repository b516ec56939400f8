"""Stub: ``mlflow.sklearn`` is a model flavor, not part of tracklet (see tracklet._flavors)."""

from tracklet._flavors import unavailable_flavor

raise unavailable_flavor("sklearn")
