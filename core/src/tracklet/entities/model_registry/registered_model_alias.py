"""RegisteredModelAlias (MLflow's module path)."""

from tracklet.entities.model_registry._tags import RegisteredModelAlias

__all__ = ["RegisteredModelAlias"]
