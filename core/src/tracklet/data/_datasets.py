"""Dataset objects for ``log_input`` and the ``from_*`` constructors of :mod:`tracklet.data`."""

from __future__ import annotations

import json
from typing import Any

from tracklet.data import _digest, _schema
from tracklet.data._sources import DatasetSource, code_source, resolve_source
from tracklet.entities import Dataset as DatasetEntity
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException


class Dataset:
    """A dataset with a name, a digest, a source, and (from subclasses) a schema and a
    profile; ``log_input`` stores what :meth:`to_dict` gives."""

    def __init__(self, source: DatasetSource, name: str | None = None, digest: str | None = None) -> None:
        self._source = source
        self._name = name
        self._digest = digest or self._compute_digest()

    def _compute_digest(self) -> str:
        raise NotImplementedError

    @property
    def name(self) -> str:
        """The name given, or ``"dataset"``."""
        return self._name if self._name is not None else "dataset"

    @property
    def digest(self) -> str:
        """The digest given, or MLflow's 8-character digest of the data."""
        return self._digest

    @property
    def source(self) -> DatasetSource:
        """Where the data came from."""
        return self._source

    @property
    def profile(self) -> Any:
        """Summary figures (rows, elements, shapes), or None."""
        return None

    def _schema_json(self) -> str | None:
        return None

    def to_dict(self) -> dict[str, str | None]:
        """``name``, ``digest``, ``source`` (JSON), ``source_type``, ``schema`` and ``profile``
        (JSON or None), as MLflow stores them."""
        profile = self.profile
        return {
            "name": self.name,
            "digest": self.digest,
            "source": self._source.to_json(),
            "source_type": self._source._get_source_type(),
            "schema": self._schema_json(),
            "profile": json.dumps(profile) if profile is not None else None,
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON."""
        return json.dumps(self.to_dict())

    def _to_mlflow_entity(self) -> DatasetEntity:
        """The stored entity (the method ``log_input`` calls, as in MLflow)."""
        d = self.to_dict()
        return DatasetEntity(
            d["name"] or "",
            d["digest"] or "",
            d["source_type"] or "",
            d["source"] or "",
            d["schema"],
            d["profile"],
        )


class PandasDataset(Dataset):
    """A pandas DataFrame, with optional ``targets`` and ``predictions`` column names."""

    def __init__(
        self,
        df: Any,
        source: DatasetSource,
        targets: str | None = None,
        name: str | None = None,
        digest: str | None = None,
        predictions: str | None = None,
    ) -> None:
        for role, column in (("targets", targets), ("predictions", predictions)):
            if column is not None and column not in df.columns:
                raise TrackletException(
                    f"The specified pandas DataFrame does not contain the specified {role} column '{column}'.",
                    INVALID_PARAMETER_VALUE,
                )
        self._df, self.targets, self.predictions = df, targets, predictions
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return _digest.pandas_digest(self._df)

    @property
    def df(self) -> Any:
        """The DataFrame."""
        return self._df

    @property
    def profile(self) -> Any:
        return {"num_rows": len(self._df), "num_elements": int(self._df.size)}

    def _schema_json(self) -> str | None:
        return _schema.pandas_schema(self._df)


class NumpyDataset(Dataset):
    """Numpy features (an array or a dict of arrays) and optional targets."""

    def __init__(
        self,
        features: Any,
        source: DatasetSource,
        targets: Any = None,
        name: str | None = None,
        digest: str | None = None,
    ) -> None:
        self.features, self.targets = features, targets
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return _digest.numpy_digest(self.features, self.targets)

    @property
    def profile(self) -> Any:
        return json.loads(_schema.numpy_profile(self.features, self.targets))

    def _schema_json(self) -> str | None:
        return _schema.numpy_schema(self.features, self.targets)


def _source(source: Any) -> DatasetSource:
    return code_source() if source is None else resolve_source(source)


def from_pandas(
    df: Any,
    source: Any = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> PandasDataset:
    """A dataset of a DataFrame (``mlflow.data.from_pandas``); ``source`` is a path or URI
    it was read from, or else the running code is recorded."""
    return PandasDataset(df, _source(source), targets, name, digest, predictions)


def from_numpy(
    features: Any, source: Any = None, targets: Any = None, name: str | None = None, digest: str | None = None
) -> NumpyDataset:
    """A dataset of numpy features (an array or a dict of arrays) and optional targets
    (``mlflow.data.from_numpy``)."""
    return NumpyDataset(features, _source(source), targets, name, digest)


def from_dict(
    data: dict[str, Any],
    source: Any = None,
    targets: dict[str, Any] | None = None,
    name: str | None = None,
    digest: str | None = None,
) -> NumpyDataset:
    """A dataset of columns given as a dict of sequences; the same dataset (digest, schema,
    profile) as ``mlflow.data.from_numpy({key: numpy.asarray(values)})``, which MLflow code
    can use instead (MLflow has no ``from_dict``)."""
    import numpy as np

    def arrays(columns: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if columns is None else {key: np.asarray(values) for key, values in columns.items()}

    return NumpyDataset(arrays(data), _source(source), arrays(targets), name, digest)
