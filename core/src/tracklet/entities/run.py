"""Run, RunInfo and RunData: a run's metadata and its logged values."""

from __future__ import annotations

from typing import Any

from tracklet.entities._base import TrackletObject
from tracklet.entities.dataset import RunInputs
from tracklet.entities.enums import LifecycleStage
from tracklet.entities.metric import Metric, Param, RunTag


class RunInfo(TrackletObject):
    """A run's metadata: ids, name, status, times, artifact root, lifecycle stage."""

    ACTIVE_LIFECYCLE = LifecycleStage.ACTIVE
    DELETED_LIFECYCLE = LifecycleStage.DELETED

    __slots__ = (
        "_run_id",
        "_experiment_id",
        "_user_id",
        "_status",
        "_start_time",
        "_end_time",
        "_lifecycle_stage",
        "_artifact_uri",
        "_run_name",
    )
    _fields = (
        "run_id",
        "run_uuid",
        "experiment_id",
        "run_name",
        "user_id",
        "status",
        "start_time",
        "end_time",
        "artifact_uri",
        "lifecycle_stage",
    )

    def __init__(
        self,
        run_id: str | None = None,
        experiment_id: str = "0",
        user_id: str = "",
        status: str = "RUNNING",
        start_time: int | None = None,
        end_time: int | None = None,
        lifecycle_stage: str = LifecycleStage.ACTIVE,
        artifact_uri: str | None = None,
        run_name: str | None = None,
        *,
        run_uuid: str | None = None,
    ) -> None:
        run_id = run_id or run_uuid
        if run_id is None:
            raise ValueError("RunInfo needs run_id")
        self._run_id = run_id
        self._experiment_id = str(experiment_id)
        self._user_id = user_id
        self._status = status
        self._start_time = start_time
        self._end_time = end_time
        self._lifecycle_stage = lifecycle_stage
        self._artifact_uri = artifact_uri
        self._run_name = run_name

    @property
    def run_id(self) -> str:
        """The run's id (32 hex characters)."""
        return self._run_id

    @property
    def run_uuid(self) -> str:
        """Older name of :attr:`run_id`."""
        return self._run_id

    @property
    def experiment_id(self) -> str:
        """Id of the experiment the run belongs to."""
        return self._experiment_id

    @property
    def run_name(self) -> str | None:
        """The run's display name."""
        return self._run_name

    @property
    def name(self) -> str | None:
        """Older name of :attr:`run_name`."""
        return self._run_name

    @property
    def user_id(self) -> str:
        """Who started the run."""
        return self._user_id

    @property
    def status(self) -> str:
        """``"RUNNING"``, ``"SCHEDULED"``, ``"FINISHED"``, ``"FAILED"`` or ``"KILLED"``."""
        return self._status

    @property
    def start_time(self) -> int | None:
        """Start time in ms since the epoch."""
        return self._start_time

    @property
    def end_time(self) -> int | None:
        """End time in ms since the epoch, None while running."""
        return self._end_time

    @property
    def artifact_uri(self) -> str | None:
        """Root URI of the run's artifacts."""
        return self._artifact_uri

    @property
    def lifecycle_stage(self) -> str:
        """``"active"`` or ``"deleted"``."""
        return self._lifecycle_stage

    def _copy_with(self, **changes: Any) -> RunInfo:
        values = {f: getattr(self, f) for f in self._fields if f != "run_uuid"}
        values.update(changes)
        return RunInfo(**values)

    @classmethod
    def from_dictionary(cls, the_dict: dict[str, Any]) -> RunInfo:
        """Inverse of :meth:`to_dictionary`."""
        return cls(**{k: v for k, v in the_dict.items() if k in cls._fields})


class RunData(TrackletObject):
    """A run's latest metric values, params and tags, each as a dict."""

    __slots__ = ("_metric_objs", "_metrics", "_params", "_tags")
    _fields = ("metrics", "params", "tags")

    def __init__(
        self,
        metrics: list[Metric] | None = None,
        params: list[Param] | None = None,
        tags: list[RunTag] | None = None,
    ) -> None:
        self._metric_objs = list(metrics or [])
        self._metrics = {m.key: m.value for m in self._metric_objs}
        self._params = {p.key: p.value for p in params or []}
        self._tags = {t.key: t.value for t in tags or []}

    @classmethod
    def from_dicts(
        cls,
        metric_objs: list[Metric],
        metrics: dict[str, float],
        params: dict[str, str],
        tags: dict[str, str],
    ) -> RunData:
        """Build from ready dicts (copied, so stores may keep theirs cached); ``metrics`` must
        map each of ``metric_objs``' keys to its value. Faster than the constructor for
        stores that return many runs."""
        data = cls.__new__(cls)
        data._metric_objs = list(metric_objs)
        data._metrics = dict(metrics)
        data._params = dict(params)
        data._tags = dict(tags)
        return data

    @property
    def metrics(self) -> dict[str, float]:
        """Latest value of each metric (largest step, then latest timestamp)."""
        return self._metrics

    @property
    def params(self) -> dict[str, str]:
        """Params by key."""
        return self._params

    @property
    def tags(self) -> dict[str, str]:
        """Tags by key."""
        return self._tags

    @property
    def metric_objs(self) -> list[Metric]:
        """The latest metrics as :class:`Metric` objects, with timestamp and step."""
        return self._metric_objs

    @classmethod
    def from_dictionary(cls, the_dict: dict[str, Any]) -> RunData:
        """Build from ``{"metrics": {k: v}, "params": {k: v}, "tags": {k: v}}``."""
        return cls(
            metrics=[Metric(k, v, 0, 0) for k, v in (the_dict.get("metrics") or {}).items()],
            params=[Param(k, v) for k, v in (the_dict.get("params") or {}).items()],
            tags=[RunTag(k, v) for k, v in (the_dict.get("tags") or {}).items()],
        )


class Run(TrackletObject):
    """A run: its :class:`RunInfo`, :class:`RunData` and :class:`RunInputs`."""

    __slots__ = ("_info", "_data", "_inputs")
    _fields = ("info", "data", "inputs")

    def __init__(
        self, run_info: RunInfo, run_data: RunData | None = None, run_inputs: RunInputs | None = None
    ) -> None:
        if run_info is None:
            raise ValueError("run_info must not be None")
        self._info = run_info
        self._data = run_data if run_data is not None else RunData()
        self._inputs = run_inputs if run_inputs is not None else RunInputs()

    @property
    def info(self) -> RunInfo:
        """Metadata: id, name, status, times."""
        return self._info

    @property
    def data(self) -> RunData:
        """Metrics, params and tags."""
        return self._data

    @property
    def inputs(self) -> RunInputs:
        """Datasets the run used."""
        return self._inputs

    @classmethod
    def from_dictionary(cls, the_dict: dict[str, Any]) -> Run:
        """Inverse of :meth:`to_dictionary`."""
        return cls(
            RunInfo.from_dictionary(the_dict["info"]),
            RunData.from_dictionary(the_dict.get("data") or {}),
            RunInputs.from_dictionary(the_dict.get("inputs") or {}),
        )
