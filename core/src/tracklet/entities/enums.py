"""MLflow's enumerations: run status, view type, source type, lifecycle stage.

Numbers, names and conversions are MLflow's (``mlflow.entities``): a status or source
type is a number with an upper-case name, a view type's name is lower-case
(``active_only``), as ``ViewType.to_string`` returns it in MLflow.
"""

from __future__ import annotations

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException


class RunStatus:
    """Status of a run, as MLflow numbers it (the wire enum ``mlflow.RunStatus``)."""

    RUNNING = 1
    SCHEDULED = 2
    FINISHED = 3
    FAILED = 4
    KILLED = 5

    _STRING_TO_STATUS = {"RUNNING": 1, "SCHEDULED": 2, "FINISHED": 3, "FAILED": 4, "KILLED": 5}
    _STATUS_TO_STRING = {number: name for name, number in _STRING_TO_STATUS.items()}
    _TERMINATED_STATUSES = frozenset({FINISHED, FAILED, KILLED})

    @staticmethod
    def from_string(status_str: str) -> int:
        """``"FINISHED"`` -> 3; an unknown name is an ``INVALID_PARAMETER_VALUE`` error."""
        if status_str not in RunStatus._STRING_TO_STATUS:
            raise TrackletException(
                f"Could not get run status corresponding to string {status_str}. Valid run "
                f"status strings: {list(RunStatus._STRING_TO_STATUS)}",
                INVALID_PARAMETER_VALUE,
            )
        return RunStatus._STRING_TO_STATUS[status_str]

    @staticmethod
    def to_string(status: int) -> str:
        """3 -> ``"FINISHED"``; an unknown number is an ``INVALID_PARAMETER_VALUE`` error."""
        if status not in RunStatus._STATUS_TO_STRING:
            raise TrackletException(
                f"Could not get string corresponding to run status {status}. Valid run "
                f"statuses: {list(RunStatus._STATUS_TO_STRING)}",
                INVALID_PARAMETER_VALUE,
            )
        return RunStatus._STATUS_TO_STRING[status]

    @staticmethod
    def is_terminated(status: int | str) -> bool:
        """True for FINISHED, FAILED and KILLED.

        MLflow takes the number; the name is accepted too (tracklet's entities carry
        names), so ``is_terminated("KILLED")`` is True where MLflow would say False.
        """
        if isinstance(status, str):
            status = RunStatus._STRING_TO_STATUS.get(status, 0)
        return status in RunStatus._TERMINATED_STATUSES

    @staticmethod
    def all_status() -> list[int]:
        """Every status number, in MLflow's order."""
        return list(RunStatus._STATUS_TO_STRING)


class ViewType:
    """Which lifecycle stages a search returns (the wire enum ``mlflow.ViewType``)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    _VIEW_TO_STRING = {ACTIVE_ONLY: "active_only", DELETED_ONLY: "deleted_only", ALL: "all"}
    _STRING_TO_VIEW = {name: number for number, name in _VIEW_TO_STRING.items()}
    # The wire spelling (the proto enum's names), which tracklet's own callers also pass.
    _WIRE_TO_VIEW = {"ACTIVE_ONLY": ACTIVE_ONLY, "DELETED_ONLY": DELETED_ONLY, "ALL": ALL}

    @classmethod
    def from_string(cls, view_str: str) -> int:
        """``"active_only"`` -> 1, as MLflow; the wire names (``"ACTIVE_ONLY"``) are accepted too.

        Any other spelling is an ``INVALID_PARAMETER_VALUE`` error listing MLflow's names.
        """
        number = cls._STRING_TO_VIEW.get(view_str) or cls._WIRE_TO_VIEW.get(view_str)
        if number is None:
            raise TrackletException(
                f"Could not get valid view type corresponding to string {view_str}. "
                f"Valid view types are {list(cls._STRING_TO_VIEW)}",
                INVALID_PARAMETER_VALUE,
            )
        return number

    @classmethod
    def to_string(cls, view_type: int) -> str:
        """1 -> ``"active_only"`` (MLflow's lower-case name, not the wire name)."""
        if view_type not in cls._VIEW_TO_STRING:
            raise TrackletException(
                f"Could not get valid view type corresponding to string {view_type}. "
                f"Valid view types are {list(cls._VIEW_TO_STRING)}",
                INVALID_PARAMETER_VALUE,
            )
        return cls._VIEW_TO_STRING[view_type]

    @classmethod
    def to_proto(cls, view_type: int) -> int:
        """The wire enum value (the same number); ``ValueError`` for anything else, as MLflow."""
        if view_type in cls._VIEW_TO_STRING:
            return int(view_type)
        raise ValueError(f"Unexpected view_type: {view_type}")

    @classmethod
    def from_proto(cls, proto_view_type: int) -> int:
        """The view type of a wire enum value; ``ValueError`` for anything else, as MLflow."""
        if proto_view_type in cls._VIEW_TO_STRING:
            return int(proto_view_type)
        raise ValueError(f"Unexpected proto_view_type: {proto_view_type}")


class SourceType:
    """Where a run's code came from (MLflow's Python numbering: UNKNOWN is 5)."""

    NOTEBOOK = 1
    JOB = 2
    PROJECT = 3
    LOCAL = 4
    UNKNOWN = 5

    _STRING_TO_SOURCETYPE = {"NOTEBOOK": 1, "JOB": 2, "PROJECT": 3, "LOCAL": 4, "UNKNOWN": 5}
    SOURCETYPE_TO_STRING = {number: name for name, number in _STRING_TO_SOURCETYPE.items()}

    @staticmethod
    def from_string(status_str: str) -> int:
        """``"LOCAL"`` -> 4; an unknown name is an ``INVALID_PARAMETER_VALUE`` error."""
        if status_str not in SourceType._STRING_TO_SOURCETYPE:
            raise TrackletException(
                f"Could not get source type corresponding to string {status_str}. Valid "
                f"source type strings: {list(SourceType._STRING_TO_SOURCETYPE)}",
                INVALID_PARAMETER_VALUE,
            )
        return SourceType._STRING_TO_SOURCETYPE[status_str]

    @staticmethod
    def to_string(status: int) -> str:
        """4 -> ``"LOCAL"``; an unknown number is an ``INVALID_PARAMETER_VALUE`` error."""
        if status not in SourceType.SOURCETYPE_TO_STRING:
            raise TrackletException(
                f"Could not get string corresponding to source type {status}. Valid "
                f"source types: {list(SourceType.SOURCETYPE_TO_STRING)}",
                INVALID_PARAMETER_VALUE,
            )
        return SourceType.SOURCETYPE_TO_STRING[status]


class LifecycleStage:
    """Whether an experiment or run is active or (soft-)deleted."""

    ACTIVE = "active"
    DELETED = "deleted"
    _VALID_STAGES = frozenset({ACTIVE, DELETED})

    @classmethod
    def view_type_to_stages(cls, view_type: int | None = ViewType.ALL) -> list[str]:
        """The stages a view type selects (``None`` selects both, like ``ALL``)."""
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
        """Whether a stage is selected by a view type; an unknown stage or view type is an error."""
        if not cls.is_valid(lifecycle_stage):
            raise TrackletException(f"Invalid lifecycle stage '{lifecycle_stage}'", INVALID_PARAMETER_VALUE)
        if view_type == ViewType.ALL:
            return True
        if view_type == ViewType.ACTIVE_ONLY:
            return lifecycle_stage == cls.ACTIVE
        if view_type == ViewType.DELETED_ONLY:
            return lifecycle_stage == cls.DELETED
        raise TrackletException(f"Invalid view type '{view_type}'", INVALID_PARAMETER_VALUE)
