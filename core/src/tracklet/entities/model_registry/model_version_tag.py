"""ModelVersionTag (MLflow's module path)."""

from tracklet.entities.model_registry._tags import ModelVersionTag

__all__ = ["ModelVersionTag"]
