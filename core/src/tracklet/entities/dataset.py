"""Datasets a run used: Dataset, DatasetInput, RunInputs."""

from __future__ import annotations

from typing import Any

from tracklet.entities import _proto
from tracklet.entities._base import TrackletObject
from tracklet.entities.metric import InputTag


class Dataset(TrackletObject):
    """A dataset's identity: name and digest, plus where it came from."""

    __slots__ = ("_name", "_digest", "_source_type", "_source", "_schema", "_profile")
    _fields = ("digest", "name", "profile", "schema", "source", "source_type")

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

    def to_dictionary(self) -> dict[str, Any]:
        """MLflow's dictionary form, in MLflow's key order."""
        return {
            "name": self.name,
            "digest": self.digest,
            "source_type": self.source_type,
            "source": self.source,
            "schema": self.schema,
            "profile": self.profile,
        }

    def to_proto(self) -> Any:
        """MLflow's wire message ``mlflow.Dataset`` (needs protobuf); empty schema/profile left out."""
        proto = _proto.message("Dataset")(
            name=self.name, digest=self.digest, source_type=self.source_type, source=self.source
        )
        if self.schema:
            proto.schema = self.schema
        if self.profile:
            proto.profile = self.profile
        return proto

    @classmethod
    def from_proto(cls, proto: Any) -> Dataset:
        """The dataset in an ``mlflow.Dataset`` message (unset schema/profile are None)."""
        return cls(
            proto.name,
            proto.digest,
            proto.source_type,
            proto.source,
            proto.schema if proto.HasField("schema") else None,
            proto.profile if proto.HasField("profile") else None,
        )


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

    def to_dictionary(self) -> dict[str, Any]:
        """MLflow's dictionary form: the dataset's dictionary and the tags as ``{key: value}``."""
        return {"dataset": self.dataset.to_dictionary(), "tags": {t.key: t.value for t in self.tags}}

    @classmethod
    def from_dictionary(cls, the_dict: dict[str, Any]) -> DatasetInput:
        """Inverse of :meth:`to_dictionary` (tags as ``{key: value}`` or a list of tag dicts)."""
        tags = the_dict.get("tags") or []
        if isinstance(tags, dict):
            tag_list = [InputTag(k, v) for k, v in tags.items()]
        else:
            tag_list = [InputTag.from_dictionary(t) for t in tags]
        return cls(Dataset.from_dictionary(the_dict["dataset"]), tag_list)

    def to_proto(self) -> Any:
        """MLflow's wire message ``mlflow.DatasetInput`` (needs protobuf)."""
        proto = _proto.message("DatasetInput")(tags=[t.to_proto() for t in self.tags])
        proto.dataset.MergeFrom(self.dataset.to_proto())
        return proto

    @classmethod
    def from_proto(cls, proto: Any) -> DatasetInput:
        """The dataset input in an ``mlflow.DatasetInput`` message, tags in wire order."""
        return cls(Dataset.from_proto(proto.dataset), [InputTag.from_proto(t) for t in proto.tags])


class RunInputs(TrackletObject):
    """Everything a run took as input: datasets, and MLflow 3's logged-model inputs.

    tracklet has no logged models; ``model_inputs`` is kept as given (MLflow's
    ``LoggedModelInput`` objects or anything with a ``model_id``) and is empty otherwise.
    """

    __slots__ = ("_dataset_inputs", "_model_inputs")
    _fields = ("dataset_inputs", "model_inputs")

    def __init__(
        self, dataset_inputs: list[DatasetInput] | None = None, model_inputs: list[Any] | None = None
    ) -> None:
        self._dataset_inputs = list(dataset_inputs or [])
        self._model_inputs = list(model_inputs or [])

    @property
    def dataset_inputs(self) -> list[DatasetInput]:
        """The datasets used."""
        return self._dataset_inputs

    @property
    def model_inputs(self) -> list[Any]:
        """The logged models used (always empty for runs tracklet stores)."""
        return self._model_inputs

    def to_dictionary(self) -> dict[str, Any]:
        """MLflow's dictionary form (``model_inputs`` first, as MLflow writes it)."""
        return {
            "model_inputs": self.model_inputs,
            "dataset_inputs": [d.to_dictionary() for d in self.dataset_inputs],
        }

    @classmethod
    def from_dictionary(cls, the_dict: dict[str, Any]) -> RunInputs:
        """Inverse of :meth:`to_dictionary`."""
        return cls(
            [DatasetInput.from_dictionary(d) for d in the_dict.get("dataset_inputs") or []],
            list(the_dict.get("model_inputs") or []),
        )

    def to_proto(self) -> Any:
        """MLflow's wire message ``mlflow.RunInputs`` (needs protobuf)."""
        proto = _proto.message("RunInputs")(dataset_inputs=[d.to_proto() for d in self.dataset_inputs])
        for model_input in self.model_inputs:
            proto.model_inputs.add(model_id=model_input.model_id)
        return proto

    @classmethod
    def from_proto(cls, proto: Any) -> RunInputs:
        """The inputs in an ``mlflow.RunInputs`` message (model inputs as :class:`LoggedModelInput`)."""
        return cls(
            [DatasetInput.from_proto(d) for d in proto.dataset_inputs],
            [LoggedModelInput(m.model_id) for m in proto.model_inputs],
        )


class LoggedModelInput(TrackletObject):
    """A logged model a run used, by id (MLflow's ``LoggedModelInput``); tracklet only carries it."""

    __slots__ = ("_model_id",)
    _fields = ("model_id",)

    def __init__(self, model_id: str) -> None:
        self._model_id = model_id

    @property
    def model_id(self) -> str:
        """The logged model's id."""
        return self._model_id
