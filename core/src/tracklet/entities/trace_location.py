"""Where a trace is stored, as MLflow 3's ``mlflow.entities.trace_location``.

tracklet stores traces in experiments; the Databricks locations (inference table, Unity
Catalog schema / table prefix) are carried as their plain dictionaries so documents that
name them round-trip unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from tracklet.entities._trace_common import PropertyIterMixin
from tracklet.exceptions import TrackletException

__all__ = ["MlflowExperimentLocation", "TraceLocation", "TraceLocationType"]

_PROTO_NUMBERS = {
    "TRACE_LOCATION_TYPE_UNSPECIFIED": 0,
    "MLFLOW_EXPERIMENT": 1,
    "INFERENCE_TABLE": 2,
    "UC_SCHEMA": 3,
    "UC_TABLE_PREFIX": 4,
}


@dataclass
class MlflowExperimentLocation(PropertyIterMixin):
    """
    Represents the location of an MLflow experiment.

    Args:
        experiment_id: The ID of the MLflow experiment where the trace is stored.
    """

    experiment_id: str

    def to_dict(self) -> dict[str, Any]:
        return {"experiment_id": self.experiment_id}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MlflowExperimentLocation:
        return cls(experiment_id=d["experiment_id"])


class TraceLocationType(str, Enum):
    TRACE_LOCATION_TYPE_UNSPECIFIED = "TRACE_LOCATION_TYPE_UNSPECIFIED"
    MLFLOW_EXPERIMENT = "MLFLOW_EXPERIMENT"
    INFERENCE_TABLE = "INFERENCE_TABLE"
    UC_SCHEMA = "UC_SCHEMA"
    UC_TABLE_PREFIX = "UC_TABLE_PREFIX"

    def to_proto(self) -> int:
        return _PROTO_NUMBERS[self.value]

    @classmethod
    def from_proto(cls, proto: int) -> TraceLocationType:
        for name, number in _PROTO_NUMBERS.items():
            if number == proto:
                return cls(name)
        raise ValueError(f"Unknown TraceLocationType number: {proto}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TraceLocationType:
        return cls(d["type"])


@dataclass
class TraceLocation(PropertyIterMixin):
    """
    Represents the location where the trace is stored.

    Args:
        type: The type of the trace location, one of the :py:class:`TraceLocationType` values.
        mlflow_experiment: The MLflow experiment location. Set this when the
            location type is MLflow experiment.
        inference_table: The inference table location (its dictionary).
        uc_schema: The Unity Catalog schema location (its dictionary).
        uc_table_prefix: The Unity Catalog table prefix location (its dictionary).
    """

    type: TraceLocationType
    mlflow_experiment: MlflowExperimentLocation | None = None
    inference_table: dict[str, Any] | None = None
    uc_schema: dict[str, Any] | None = None
    uc_table_prefix: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.type, TraceLocationType):
            self.type = TraceLocationType(self.type)
        given = [
            (name, value)
            for name, value in (
                ("mlflow_experiment", self.mlflow_experiment),
                ("inference_table", self.inference_table),
                ("uc_schema", self.uc_schema),
                ("uc_table_prefix", self.uc_table_prefix),
            )
            if value is not None
        ]
        if len(given) > 1:
            raise TrackletException.invalid_parameter_value(
                "Only one of mlflow_experiment, inference_table, uc_schema, "
                "or uc_table_prefix can be provided."
            )
        if given and given[0][0].upper() != self.type.value:
            raise TrackletException.invalid_parameter_value(
                f"Trace location type {self.type} does not match the provided location {given[0][1]}."
            )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.type.value}
        if self.mlflow_experiment:
            d["mlflow_experiment"] = self.mlflow_experiment.to_dict()
        elif self.inference_table:
            d["inference_table"] = dict(self.inference_table)
        elif self.uc_schema:
            d["uc_schema"] = dict(self.uc_schema)
        elif self.uc_table_prefix:
            d["uc_table_prefix"] = dict(self.uc_table_prefix)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TraceLocation:
        return cls(
            type=TraceLocationType(d["type"]),
            mlflow_experiment=(
                MlflowExperimentLocation.from_dict(v) if (v := d.get("mlflow_experiment")) else None
            ),
            inference_table=dict(v) if (v := d.get("inference_table")) else None,
            uc_schema=dict(v) if (v := d.get("uc_schema")) else None,
            uc_table_prefix=dict(v) if (v := d.get("uc_table_prefix")) else None,
        )

    @classmethod
    def from_experiment_id(cls, experiment_id: str) -> TraceLocation:
        return cls(
            type=TraceLocationType.MLFLOW_EXPERIMENT,
            mlflow_experiment=MlflowExperimentLocation(experiment_id=experiment_id),
        )
