"""Datasets a run used: Dataset, DatasetInput, RunInputs."""

from __future__ import annotations

from typing import Any

from tracklet.entities._base import TrackletObject
from tracklet.entities.metric import InputTag


class Dataset(TrackletObject):
    """A dataset's identity: name and digest, plus where it came from."""

    __slots__ = ("_name", "_digest", "_source_type", "_source", "_schema", "_profile")
    _fields = ("name", "digest", "source_type", "source", "schema", "profile")

    def __init__(
        self,
        name: str,
        digest: str,
        source_type: str,
        source: str,
        schema: str | None = None,
        profile: str | None = None,
    ) -> None:
        self._name = name
        self._digest = digest
        self._source_type = source_type
        self._source = source
        self._schema = schema
        self._profile = profile

    @property
    def name(self) -> str:
        """Dataset name."""
        return self._name

    @property
    def digest(self) -> str:
        """Content digest (same name + digest = same dataset)."""
        return self._digest

    @property
    def source_type(self) -> str:
        """Kind of source (``"local"``, ``"s3"``, ``"http"``, …)."""
        return self._source_type

    @property
    def source(self) -> str:
        """Source description, usually JSON."""
        return self._source

    @property
    def schema(self) -> str | None:
        """Schema as JSON, if known."""
        return self._schema

    @property
    def profile(self) -> str | None:
        """Profile (row counts and so on) as JSON, if known."""
        return self._profile


class DatasetInput(TrackletObject):
    """A dataset used by a run, with input tags such as ``mlflow.data.context``."""

    __slots__ = ("_dataset", "_tags")
    _fields = ("dataset", "tags")

    def __init__(self, dataset: Dataset, tags: list[InputTag] | None = None) -> None:
        self._dataset = dataset
        self._tags = list(tags or [])

    @property
    def dataset(self) -> Dataset:
        """The dataset."""
        return self._dataset

    @property
    def tags(self) -> list[InputTag]:
        """Input tags."""
        return self._tags

    @classmethod
    def from_dictionary(cls, the_dict: dict[str, Any]) -> DatasetInput:
        """Inverse of :meth:`to_dictionary`."""
        return cls(
            Dataset.from_dictionary(the_dict["dataset"]),
            [InputTag.from_dictionary(t) for t in the_dict.get("tags") or []],
        )


class RunInputs(TrackletObject):
    """Everything a run took as input (datasets, for now)."""

    __slots__ = ("_dataset_inputs",)
    _fields = ("dataset_inputs",)

    def __init__(self, dataset_inputs: list[DatasetInput] | None = None) -> None:
        self._dataset_inputs = list(dataset_inputs or [])

    @property
    def dataset_inputs(self) -> list[DatasetInput]:
        """The datasets used."""
        return self._dataset_inputs

    @classmethod
    def from_dictionary(cls, the_dict: dict[str, Any]) -> RunInputs:
        """Inverse of :meth:`to_dictionary`."""
        return cls([DatasetInput.from_dictionary(d) for d in the_dict.get("dataset_inputs") or []])
