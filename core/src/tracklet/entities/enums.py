"""MLflow's enumerations: run status, view type, source type, lifecycle stage."""

from __future__ import annotations

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException


class RunStatus:
    """Status of a run, as MLflow numbers it."""

    RUNNING = 1
    SCHEDULED = 2
    FINISHED = 3
    FAILED = 4
    KILLED = 5

    _NAMES = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
    _TERMINATED = frozenset({3, 4, 5})

    @staticmethod
    def from_string(status_str: str) -> int:
        """``"FINISHED"`` -> 3; an unknown name is an ``INVALID_PARAMETER_VALUE`` error."""
        for number, name in RunStatus._NAMES.items():
            if name == status_str:
                return number
        raise TrackletException(
            f"Could not get run status corresponding to string {status_str!r}. "
            f"Valid run status strings: {list(RunStatus._NAMES.values())}",
            INVALID_PARAMETER_VALUE,
        )

    @staticmethod
    def to_string(status: int) -> str:
        """3 -> ``"FINISHED"``."""
        if status not in RunStatus._NAMES:
            raise TrackletException(
                f"Could not get string corresponding to run status {status}. "
                f"Valid run status numbers: {list(RunStatus._NAMES)}",
                INVALID_PARAMETER_VALUE,
            )
        return RunStatus._NAMES[status]

    @staticmethod
    def is_terminated(status: int | str) -> bool:
        """True for FINISHED, FAILED and KILLED (by number or by name)."""
        if isinstance(status, str):
            status = RunStatus.from_string(status)
        return status in RunStatus._TERMINATED

    @staticmethod
    def all_status() -> list[int]:
        """Every status number."""
        return list(RunStatus._NAMES)


class ViewType:
    """Which lifecycle stages a search returns."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    _NAMES = {"ACTIVE_ONLY": 1, "DELETED_ONLY": 2, "ALL": 3}

    @classmethod
    def from_string(cls, view_str: str) -> int:
        """``"active_only"`` (any case) -> 1."""
        key = view_str.upper()
        if key not in cls._NAMES:
            raise TrackletException(
                f"Unrecognized view type {view_str!r}; valid values: {list(cls._NAMES)}",
                INVALID_PARAMETER_VALUE,
            )
        return cls._NAMES[key]

    @classmethod
    def to_string(cls, view_type: int) -> str:
        """1 -> ``"ACTIVE_ONLY"``."""
        for name, number in cls._NAMES.items():
            if number == view_type:
                return name
        raise TrackletException(
            f"Unrecognized view type {view_type!r}; valid values: {list(cls._NAMES.values())}",
            INVALID_PARAMETER_VALUE,
        )

    @classmethod
    def from_proto(cls, proto_view_type: int) -> int:
        """The wire value is the number itself."""
        return int(proto_view_type)

    @classmethod
    def to_proto(cls, view_type: int) -> int:
        """The wire value is the number itself."""
        return int(view_type)


class SourceType:
    """Where a run's code came from."""

    NOTEBOOK = 1
    JOB = 2
    PROJECT = 3
    LOCAL = 4
    UNKNOWN = 5

    _NAMES = {1: "NOTEBOOK", 2: "JOB", 3: "PROJECT", 4: "LOCAL", 5: "UNKNOWN"}

    @staticmethod
    def from_string(status_str: str) -> int:
        """``"LOCAL"`` -> 4."""
        for number, name in SourceType._NAMES.items():
            if name == status_str:
                return number
        raise TrackletException(
            f"Unknown source type {status_str!r}; valid: {list(SourceType._NAMES.values())}",
            INVALID_PARAMETER_VALUE,
        )

    @staticmethod
    def to_string(status: int) -> str:
        """4 -> ``"LOCAL"``."""
        return SourceType._NAMES.get(status, "UNKNOWN")


class LifecycleStage:
    """Whether an experiment or run is active or (soft-)deleted."""

    ACTIVE = "active"
    DELETED = "deleted"
    _VALID_STAGES = frozenset({ACTIVE, DELETED})

    @classmethod
    def view_type_to_stages(cls, view_type: int | None = None) -> list[str]:
        """The stages a view type selects."""
        stages = []
        if view_type in (ViewType.ACTIVE_ONLY, ViewType.ALL, None):
            stages.append(cls.ACTIVE)
        if view_type in (ViewType.DELETED_ONLY, ViewType.ALL, None):
            stages.append(cls.DELETED)
        return stages

    @classmethod
    def is_valid(cls, lifecycle_stage: str) -> bool:
        """True for ``"active"`` and ``"deleted"``."""
        return lifecycle_stage in cls._VALID_STAGES

    @classmethod
    def matches_view_type(cls, view_type: int, lifecycle_stage: str) -> bool:
        """Whether a stage is selected by a view type."""
        if not cls.is_valid(lifecycle_stage):
            raise TrackletException(f"Invalid lifecycle stage {lifecycle_stage!r}", INVALID_PARAMETER_VALUE)
        if view_type == ViewType.ALL:
            return True
        if view_type == ViewType.ACTIVE_ONLY:
            return lifecycle_stage == cls.ACTIVE
        if view_type == ViewType.DELETED_ONLY:
            return lifecycle_stage == cls.DELETED
        return False
