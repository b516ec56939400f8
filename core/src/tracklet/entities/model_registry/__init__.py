"""The model registry's entities, as MLflow's ``mlflow.entities.model_registry``."""

from tracklet.entities.model_registry._tags import ModelVersionTag, RegisteredModelAlias, RegisteredModelTag
from tracklet.entities.model_registry.model_version import ModelVersion
from tracklet.entities.model_registry.model_version_status import ModelVersionStatus
from tracklet.entities.model_registry.registered_model import RegisteredModel

__all__ = [
    "ModelVersion",
    "ModelVersionStatus",
    "ModelVersionTag",
    "RegisteredModel",
    "RegisteredModelAlias",
    "RegisteredModelTag",
]
