"""The registration status of a model version (MLflow's ``ModelVersionStatus``)."""

from __future__ import annotations

__all__ = ["ModelVersionStatus"]


class ModelVersionStatus:
    """Status of a model version, as the numbers of MLflow's wire enum."""

    PENDING_REGISTRATION = 1
    FAILED_REGISTRATION = 2
    READY = 3
    _STRING_TO_STATUS = {"PENDING_REGISTRATION": 1, "FAILED_REGISTRATION": 2, "READY": 3}
    _STATUS_TO_STRING = {value: key for key, value in _STRING_TO_STATUS.items()}

    @staticmethod
    def from_string(status_str: str) -> int:
        """The number of a status name (``"READY"`` -> 3)."""
        if status_str not in ModelVersionStatus._STRING_TO_STATUS:
            raise Exception(
                f"Could not get model version status corresponding to string {status_str}. "
                f"Valid status strings: {list(ModelVersionStatus._STRING_TO_STATUS.keys())}"
            )
        return ModelVersionStatus._STRING_TO_STATUS[status_str]

    @staticmethod
    def to_string(status: int) -> str:
        """The name of a status number (3 -> ``"READY"``)."""
        if status not in ModelVersionStatus._STATUS_TO_STRING:
            raise Exception(
                f"Could not get string corresponding to model version status {status}. "
                f"Valid statuses: {list(ModelVersionStatus._STATUS_TO_STRING.keys())}"
            )
        return ModelVersionStatus._STATUS_TO_STRING[status]

    @staticmethod
    def all_status() -> list[int]:
        """Every status number."""
        return list(ModelVersionStatus._STATUS_TO_STRING.keys())
