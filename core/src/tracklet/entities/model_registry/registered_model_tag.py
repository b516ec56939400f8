"""RegisteredModelTag (MLflow's module path)."""

from tracklet.entities.model_registry._tags import RegisteredModelTag

__all__ = ["RegisteredModelTag"]
