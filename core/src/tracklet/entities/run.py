"""Run, RunInfo and RunData: a run's metadata and its logged values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tracklet.entities import _proto
from tracklet.entities._base import TrackletObject
from tracklet.entities.dataset import RunInputs
from tracklet.entities.enums import LifecycleStage, RunStatus
from tracklet.entities.metric import Metric, Param, RunTag
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

# The legacy (MLflow 0.x) attributes a RunInfo also carries; None unless given.
_LEGACY_FIELDS = ("source_type", "source_name", "entry_point_name", "source_version")
# MLflow 0.x's positional order (seed 004): 12 arguments, then artifact_uri.
_LEGACY_ORDER = (
    "run_uuid",
    "experiment_id",
    "name",
    "source_type",
    "source_name",
    "entry_point_name",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "source_version",
    "lifecycle_stage",
    "artifact_uri",
)


class RunInfo(TrackletObject):
    """A run's metadata: ids, name, status, times, artifact root, lifecycle stage.

    Two constructor forms, told apart by the number of positional arguments:

    - MLflow 3's ``RunInfo(run_id, experiment_id, user_id, status, start_time, end_time,
      lifecycle_stage, artifact_uri=None, run_name=None)`` (up to 9 positional);
    - MLflow 0.x's ``RunInfo(run_uuid, experiment_id, name, source_type, source_name,
      entry_point_name, user_id, status, start_time, end_time, source_version,
      lifecycle_stage, artifact_uri=None)`` (12 or 13 positional).

    The legacy attributes (``source_type``, ``source_name``, ``entry_point_name``,
    ``source_version``) may also be passed by keyword; MLflow 3 keeps them as run tags,
    so here they are None unless given, and they are not part of the wire message.
    Iteration and repr list MLflow 3's properties only, as MLflow 3 does.
    """

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
        "_source_type",
        "_source_name",
        "_entry_point_name",
        "_source_version",
    )
    _fields = (
        "artifact_uri",
        "end_time",
        "experiment_id",
        "lifecycle_stage",
        "run_id",
        "run_name",
        "start_time",
        "status",
        "user_id",
    )
    _compared = _LEGACY_FIELDS

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
        *legacy_args: Any,
        run_uuid: str | None = None,
        name: str | None = None,
        source_type: int | None = None,
        source_name: str | None = None,
        entry_point_name: str | None = None,
        source_version: str | None = None,
    ) -> None:
        if legacy_args:
            given = (
                run_id,
                experiment_id,
                user_id,
                status,
                start_time,
                end_time,
                lifecycle_stage,
                artifact_uri,
            )
            positional = (*given, run_name, *legacy_args)
            if len(positional) not in (12, 13):
                raise TypeError(
                    "RunInfo takes up to 9 positional arguments (MLflow 3's order) or 12-13 "
                    "(MLflow 0.x's: run_uuid, experiment_id, name, source_type, source_name, "
                    "entry_point_name, user_id, status, start_time, end_time, source_version, "
                    f"lifecycle_stage[, artifact_uri]); got {len(positional)}"
                )
            values = dict(zip(_LEGACY_ORDER, positional, strict=False))
            run_id, run_name = values["run_uuid"], values["name"]
            experiment_id, user_id, status = values["experiment_id"], values["user_id"], values["status"]
            start_time, end_time = values["start_time"], values["end_time"]
            lifecycle_stage, artifact_uri = values["lifecycle_stage"], values.get("artifact_uri")
            source_type, source_name = values["source_type"], values["source_name"]
            entry_point_name, source_version = values["entry_point_name"], values["source_version"]
        run_id = run_id or run_uuid
        if run_id is None:
            raise ValueError("RunInfo needs run_id (or its older name run_uuid)")
        self._run_id = run_id
        self._experiment_id = str(experiment_id)
        self._user_id = user_id
        self._status = status
        self._start_time = start_time
        self._end_time = end_time
        self._lifecycle_stage = lifecycle_stage
        self._artifact_uri = artifact_uri
        self._run_name = run_name if run_name is not None else name
        self._source_type = source_type
        self._source_name = source_name
        self._entry_point_name = entry_point_name
        self._source_version = source_version

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

    @property
    def source_type(self) -> int | None:
        """Legacy: a :class:`SourceType` number describing the run's source, if given."""
        return self._source_type

    @property
    def source_name(self) -> str | None:
        """Legacy: the source's name (a file or a project's Git URI), if given."""
        return self._source_name

    @property
    def entry_point_name(self) -> str | None:
        """Legacy: the project entry point that ran, if given."""
        return self._entry_point_name

    @property
    def source_version(self) -> str | None:
        """Legacy: the Git commit of the code, if given."""
        return self._source_version

    def _copy_with(self, **changes: Any) -> RunInfo:
        values = {f: getattr(self, f) for f in self._fields + _LEGACY_FIELDS}
        values.update(changes)
        return RunInfo(**values)

    @classmethod
    def from_dictionary(cls, the_dict: dict[str, Any]) -> RunInfo:
        """Inverse of :meth:`to_dictionary` (the older keys run_uuid/name and the legacy ones too)."""
        known = (*cls._fields, *_LEGACY_FIELDS, "run_uuid", "name")
        return cls(**{k: v for k, v in the_dict.items() if k in known})

    def to_proto(self) -> Any:
        """MLflow's wire message ``mlflow.RunInfo`` (needs protobuf), filled as MLflow fills it.

        The status goes as its enum number; an empty end time or artifact URI is left out.
        """
        proto = _proto.message("RunInfo")(run_uuid=self.run_id, run_id=self.run_id)
        if self.run_name is not None:
            proto.run_name = self.run_name
        proto.experiment_id = self.experiment_id
        if self.user_id is not None:
            proto.user_id = self.user_id
        status = self.status
        proto.status = status if isinstance(status, int) else RunStatus.from_string(status)
        if self.start_time is not None:
            proto.start_time = self.start_time
        if self.end_time:
            proto.end_time = self.end_time
        if self.artifact_uri:
            proto.artifact_uri = self.artifact_uri
        proto.lifecycle_stage = self.lifecycle_stage
        return proto

    @classmethod
    def from_proto(cls, proto: Any) -> RunInfo:
        """The run info in an ``mlflow.RunInfo`` message (an end time of 0 is None, as in MLflow)."""
        return cls(
            run_id=proto.run_id or proto.run_uuid,
            run_name=proto.run_name,
            experiment_id=proto.experiment_id,
            user_id=proto.user_id,
            status=RunStatus.to_string(proto.status),
            start_time=proto.start_time,
            end_time=proto.end_time or None,
            lifecycle_stage=proto.lifecycle_stage,
            artifact_uri=proto.artifact_uri,
        )


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

    @classmethod
    def from_points(
        cls,
        points: Iterable[tuple[str, float, int, int]],
        params: dict[str, str],
        tags: dict[str, str],
    ) -> RunData:
        """Build from the latest metrics as ``(key, value, timestamp, step)`` rows and the
        run's own ``params`` and ``tags`` dicts, which are kept, not copied: the caller
        hands them over. Equal to ``RunData([Metric(k, v, t, s) ...], params, tags)`` at
        about half the cost: a search page builds some 1,000 metrics, and a
        :class:`Metric` call with its optional links checked is most of each one's cost."""
        new = object.__new__
        metric_objs: list[Metric] = []
        metrics: dict[str, float] = {}
        append = metric_objs.append
        for key, value, timestamp, step in points:
            metric = new(Metric)
            metric._key = key
            metric._value = value
            metric._timestamp = timestamp
            metric._step = step
            metric._run_id = None
            append(metric)
            metrics[key] = value
        data = new(cls)
        data._metric_objs = metric_objs
        data._metrics = metrics
        data._params = params
        data._tags = tags
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

    def to_proto(self) -> Any:
        """MLflow's wire message ``mlflow.RunData`` (needs protobuf): metrics as logged, params
        and tags from their dicts."""
        proto = _proto.message("RunData")(metrics=[m.to_proto() for m in self._metric_objs])
        for key, value in self._params.items():
            proto.params.add(key=key, value=value)
        for key, value in self._tags.items():
            proto.tags.add(key=key, value=value)
        return proto

    @classmethod
    def from_proto(cls, proto: Any) -> RunData:
        """The data in an ``mlflow.RunData`` message (a later entry for a key wins, as in MLflow)."""
        return cls(
            [Metric.from_proto(m) for m in proto.metrics],
            [Param.from_proto(p) for p in proto.params],
            [RunTag.from_proto(t) for t in proto.tags],
        )


class Run(TrackletObject):
    """A run: its :class:`RunInfo`, :class:`RunData`, :class:`RunInputs` and MLflow 3's outputs.

    Unlike MLflow, missing data and inputs become empty ones (never None); ``outputs``
    (MLflow 3's logged-model outputs, which tracklet does not record) is kept as given.
    """

    __slots__ = ("_info", "_data", "_inputs", "_outputs")
    _fields = ("data", "info", "inputs", "outputs")

    def __init__(
        self,
        run_info: RunInfo,
        run_data: RunData | None = None,
        run_inputs: RunInputs | None = None,
        run_outputs: Any = None,
    ) -> None:
        if run_info is None:
            raise TrackletException("run_info cannot be None", INVALID_PARAMETER_VALUE)
        self._info = run_info
        self._data = run_data if run_data is not None else RunData()
        self._inputs = run_inputs if run_inputs is not None else RunInputs()
        self._outputs = run_outputs

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

    @property
    def outputs(self) -> Any:
        """MLflow 3's logged-model outputs: None for runs tracklet stores."""
        return self._outputs

    def to_dictionary(self) -> dict[str, Any]:
        """MLflow's dictionary form: ``info`` as ``dict(run.info)``, then data and inputs."""
        out: dict[str, Any] = {
            "info": dict(self.info),
            "data": self.data.to_dictionary(),
            "inputs": self.inputs.to_dictionary(),
        }
        if self.outputs:
            out["outputs"] = self.outputs.to_dictionary()
        return out

    @classmethod
    def from_dictionary(cls, the_dict: dict[str, Any]) -> Run:
        """Inverse of :meth:`to_dictionary`."""
        return cls(
            RunInfo.from_dictionary(the_dict["info"]),
            RunData.from_dictionary(the_dict.get("data") or {}),
            RunInputs.from_dictionary(the_dict.get("inputs") or {}),
        )

    def to_proto(self) -> Any:
        """MLflow's wire message ``mlflow.Run`` (needs protobuf)."""
        proto = _proto.message("Run")()
        proto.info.MergeFrom(self.info.to_proto())
        proto.data.MergeFrom(self.data.to_proto())
        proto.inputs.MergeFrom(self.inputs.to_proto())
        return proto

    @classmethod
    def from_proto(cls, proto: Any) -> Run:
        """The run in an ``mlflow.Run`` message."""
        return cls(
            RunInfo.from_proto(proto.info), RunData.from_proto(proto.data), RunInputs.from_proto(proto.inputs)
        )
