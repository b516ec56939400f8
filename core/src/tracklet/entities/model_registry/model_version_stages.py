"""The stages of a model version (MLflow's stage workflow, deprecated in favour of aliases)."""

from __future__ import annotations

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

__all__ = [
    "ALL_STAGES",
    "DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS",
    "STAGE_ARCHIVED",
    "STAGE_DELETED_INTERNAL",
    "STAGE_NONE",
    "STAGE_PRODUCTION",
    "STAGE_STAGING",
    "get_canonical_stage",
]

STAGE_NONE = "None"
STAGE_STAGING = "Staging"
STAGE_PRODUCTION = "Production"
STAGE_ARCHIVED = "Archived"

#: The stage MLflow's file store writes into a deleted version's meta.yaml.
STAGE_DELETED_INTERNAL = "Deleted_Internal"

ALL_STAGES = [STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED]
DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS = [STAGE_STAGING, STAGE_PRODUCTION]
_CANONICAL_MAPPING = {stage.lower(): stage for stage in ALL_STAGES}


def get_canonical_stage(stage: str) -> str:
    """The stage spelled as MLflow stores it (``"staging"`` -> ``"Staging"``).

    Raises ``INVALID_PARAMETER_VALUE`` with MLflow's message for anything else.
    """
    key = stage.lower()
    if key not in _CANONICAL_MAPPING:
        raise TrackletException(
            f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(ALL_STAGES)}.",
            INVALID_PARAMETER_VALUE,
        )
    return _CANONICAL_MAPPING[key]
