"""Metric, Param and the tag entities: the key/value records a run carries."""

from __future__ import annotations

from typing import Any

from tracklet.entities._base import TrackletObject


class Metric(TrackletObject):
    """One logged value of a metric: key, value, timestamp (ms) and step."""

    __slots__ = ("_key", "_value", "_timestamp", "_step", "_run_id")
    _fields = ("key", "value", "timestamp", "step")

    def __init__(
        self, key: str, value: float, timestamp: int, step: int = 0, run_id: str | None = None
    ) -> None:
        self._key = key
        self._value = value
        self._timestamp = timestamp
        self._step = step
        self._run_id = run_id

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
    def run_id(self) -> str | None:
        """The run the value was logged to, when known."""
        return self._run_id

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Metric):
            return NotImplemented
        # NaN == NaN here: a stored NaN must compare equal to the NaN that was logged.
        same_value = self.value == other.value or (self.value != self.value and other.value != other.value)
        return (self.key, self.timestamp, self.step) == (
            other.key,
            other.timestamp,
            other.step,
        ) and same_value

    def __hash__(self) -> int:
        return hash((self.key, self.timestamp, self.step))


class Param(TrackletObject):
    """A run parameter: a string key and a string value, immutable once logged."""

    __slots__ = ("_key", "_value")
    _fields = ("key", "value")

    def __init__(self, key: str, value: Any) -> None:
        self._key = key
        self._value = value

    @property
    def key(self) -> str:
        """The parameter's name."""
        return self._key

    @property
    def value(self) -> Any:
        """The parameter's value (a string once stored)."""
        return self._value


class RunTag(Param):
    """A tag on a run: string key and value, may be overwritten or deleted."""

    __slots__ = ()


class ExperimentTag(Param):
    """A tag on an experiment."""

    __slots__ = ()


class InputTag(Param):
    """A tag on a dataset input (for example ``mlflow.data.context = "training"``)."""

    __slots__ = ()
