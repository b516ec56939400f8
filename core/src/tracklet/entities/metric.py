"""Metric, Param and the tag entities: the key/value records a run carries."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeVar

from tracklet.entities import _proto
from tracklet.entities._base import TrackletObject
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.utils.gc import gc_paused

_KV = TypeVar("_KV", bound="_KeyValue")


class Metric(TrackletObject):
    """One logged value of a metric: key, value, timestamp (ms) and step.

    ``model_id`` and the dataset pair are MLflow 3's optional links; ``run_id`` is set
    when the value comes from a multi-run query. The model and dataset links default to
    None at class level and live in the instance only when set, so a plain point (what a
    100,000-point history is made of) holds five slots; :meth:`from_rows` builds many.
    """

    # "__dict__" holds the model and dataset links when set (and, as on MLflow's class,
    # whatever else a caller assigns).
    __slots__ = ("_key", "_value", "_timestamp", "_step", "_run_id", "__dict__")
    _fields = ("dataset_digest", "dataset_name", "key", "model_id", "run_id", "step", "timestamp", "value")
    _model_id: str | None = None
    _dataset_name: str | None = None
    _dataset_digest: str | None = None

    def __init__(
        self,
        key: str,
        value: float,
        timestamp: int,
        step: int = 0,
        model_id: str | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
        run_id: str | None = None,
    ) -> None:
        self._key = key
        self._value = value
        self._timestamp = timestamp
        self._step = step
        if model_id is not None:
            self._model_id = model_id
        if dataset_name is not None or dataset_digest is not None:
            if dataset_name is None or dataset_digest is None:
                raise TrackletException(
                    "Both dataset_name and dataset_digest must be provided if one is provided",
                    INVALID_PARAMETER_VALUE,
                )
            self._dataset_name = dataset_name
            self._dataset_digest = dataset_digest
        self._run_id = run_id

    @classmethod
    def from_rows(
        cls, key: str, rows: Iterable[tuple[float | None, int, int]], run_id: str | None = None
    ) -> list[Metric]:
        """The points of metric ``key`` in ``(value, timestamp, step)`` rows, as a store
        reads them (a database cursor, a parsed file), in their order; a value of None is
        NaN (sqlite returns NULL for a stored NaN). Every point gets ``run_id`` if given.

        Equal to ``[Metric(key, value, timestamp, step, run_id=run_id) ...]`` at a third
        of the cost (100,000 points: ~25 instead of ~65 ms): no call per point, and the
        cycle collector paused while the rows are read (100,000 acyclic objects would
        otherwise run it over an ever larger heap dozens of times).
        """
        new = object.__new__
        nan = math.nan
        out: list[Metric] = []
        append = out.append
        with gc_paused():
            for value, timestamp, step in rows:
                metric = new(cls)
                metric._key = key
                metric._value = nan if value is None else value
                metric._timestamp = timestamp
                metric._step = step
                metric._run_id = run_id
                append(metric)
        return out

    @property
    def key(self) -> str:
        """The metric's name."""
        return self._key

    @property
    def value(self) -> float:
        """The value, a float (NaN and ±inf are kept)."""
        return self._value

    @property
    def timestamp(self) -> int:
        """Milliseconds since the Unix epoch."""
        return self._timestamp

    @property
    def step(self) -> int:
        """The training step the value belongs to."""
        return self._step

    @property
    def model_id(self) -> str | None:
        """The logged model the value belongs to, if any."""
        return self._model_id

    @property
    def dataset_name(self) -> str | None:
        """Name of the dataset the value was computed on, if any."""
        return self._dataset_name

    @property
    def dataset_digest(self) -> str | None:
        """Digest of the dataset the value was computed on, if any."""
        return self._dataset_digest

    @property
    def run_id(self) -> str | None:
        """The run the value was logged to, when known."""
        return self._run_id

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Metric):
            return NotImplemented
        # NaN == NaN here: a stored NaN must compare equal to the NaN that was logged.
        # run_id is left out: the same point read through a single-run or a multi-run call.
        same_value = self.value == other.value or (self.value != self.value and other.value != other.value)
        mine = (self.key, self.timestamp, self.step, self.model_id, self.dataset_name, self.dataset_digest)
        theirs = (
            other.key,
            other.timestamp,
            other.step,
            other.model_id,
            other.dataset_name,
            other.dataset_digest,
        )
        return mine == theirs and same_value

    def __hash__(self) -> int:
        return hash((self.key, self.timestamp, self.step))

    def to_dictionary(self) -> dict[str, Any]:
        """MLflow's dictionary form, in MLflow's key order."""
        return {
            "key": self.key,
            "value": self.value,
            "timestamp": self.timestamp,
            "step": self.step,
            "model_id": self.model_id,
            "dataset_name": self.dataset_name,
            "dataset_digest": self.dataset_digest,
            "run_id": self.run_id,
        }

    @classmethod
    def from_dictionary(cls, metric_dict: dict[str, Any]) -> Metric:
        """Inverse of :meth:`to_dictionary`; key, value, timestamp and step are required."""
        missing = [k for k in ("key", "value", "timestamp", "step") if k not in metric_dict]
        if missing:
            raise TrackletException(
                f"Missing required keys {missing} in metric dictionary", INVALID_PARAMETER_VALUE
            )
        return cls(**{k: v for k, v in metric_dict.items() if k in cls._fields})

    def to_proto(self) -> Any:
        """MLflow's wire message ``mlflow.Metric`` (needs protobuf)."""
        proto = _proto.message("Metric")(
            key=self.key, value=self.value, timestamp=self.timestamp, step=self.step
        )
        for name in ("model_id", "dataset_name", "dataset_digest", "run_id"):
            if getattr(self, name):
                setattr(proto, name, getattr(self, name))
        return proto

    @classmethod
    def from_proto(cls, proto: Any) -> Metric:
        """The metric in an ``mlflow.Metric`` message (unset optional fields become None)."""
        return cls(
            proto.key,
            proto.value,
            proto.timestamp,
            proto.step,
            model_id=proto.model_id or None,
            dataset_name=proto.dataset_name or None,
            dataset_digest=proto.dataset_digest or None,
            run_id=proto.run_id or None,
        )


class _KeyValue(TrackletObject):
    """A string key and a string value, sent on the wire as the message named like the class."""

    __slots__ = ("_key", "_value")
    _fields = ("key", "value")

    def __init__(self, key: str, value: Any) -> None:
        self._key = key
        self._value = value

    @property
    def key(self) -> str:
        """The name."""
        return self._key

    @property
    def value(self) -> Any:
        """The value (a string once stored)."""
        return self._value

    def to_proto(self) -> Any:
        """MLflow's wire message of the same name (``mlflow.Param``, ``mlflow.RunTag``, ...)."""
        value = self.value if isinstance(self.value, str) else str(self.value)
        return _proto.message(type(self).__name__)(key=self.key, value=value)

    @classmethod
    def from_proto(cls: type[_KV], proto: Any) -> _KV:
        """The entity in a wire message with ``key`` and ``value``."""
        return cls(proto.key, proto.value)


class Param(_KeyValue):
    """A run parameter: a string key and a string value, immutable once logged.

    As in MLflow, two params are equal when their keys are (a run has one value per key).
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


class RunTag(_KeyValue):
    """A tag on a run: string key and value, may be overwritten or deleted."""

    __slots__ = ()


class ExperimentTag(_KeyValue):
    """A tag on an experiment."""

    __slots__ = ()


class InputTag(_KeyValue):
    """A tag on a dataset input (for example ``mlflow.data.context = "training"``)."""

    __slots__ = ()
