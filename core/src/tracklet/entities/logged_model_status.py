"""LoggedModelStatus: where a logged model is in its life (pending upload, ready, failed)."""

from __future__ import annotations

from enum import Enum

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

__all__ = ["LoggedModelStatus"]

_NUMBERS = {"UNSPECIFIED": 0, "PENDING": 1, "READY": 2, "FAILED": 3}


class LoggedModelStatus(str, Enum):
    """Status of a :class:`~tracklet.entities.LoggedModel` (MLflow's enum)."""

    UNSPECIFIED = "UNSPECIFIED"
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"

    def __str__(self) -> str:
        return self.value

    @staticmethod
    def is_finalized(status: object) -> bool:
        """Whether no further status update will happen (READY or FAILED)."""
        return status in [LoggedModelStatus.READY, LoggedModelStatus.FAILED]

    def to_int(self) -> int:
        """The status's number (MLflow's wire enum: UNSPECIFIED 0 … FAILED 3)."""
        return _NUMBERS[self.value]

    def to_proto(self) -> int:
        """The wire enum value (``LOGGED_MODEL_READY`` = 2…)."""
        return self.to_int()

    @classmethod
    def from_int(cls, status_int: int) -> LoggedModelStatus:
        """The status of a number; ``INVALID_PARAMETER_VALUE`` for an unknown one."""
        for name, number in _NUMBERS.items():
            if number == status_int:
                return cls(name)
        raise TrackletException(f"Unknown model status: {status_int}", INVALID_PARAMETER_VALUE)

    @classmethod
    def from_proto(cls, proto: int) -> LoggedModelStatus:
        """The status of a wire enum value."""
        return cls.from_int(proto)
