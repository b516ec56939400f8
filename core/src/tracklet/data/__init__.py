"""Datasets for ``log_input``: ``tracklet.data.from_pandas``, ``from_numpy`` and ``from_dict``.

As ``mlflow.data``: each gives a dataset with a name (``"dataset"`` unless given), an
8-character digest computed as MLflow computes it (so the same data logged by either tool
has the same digest), a source (a path or URI, or else the code that built it), a schema
and a profile. pandas and numpy are needed only when one of these is called.
"""

from __future__ import annotations

from tracklet.data._datasets import Dataset, NumpyDataset, PandasDataset, from_dict, from_numpy, from_pandas
from tracklet.data._sources import DatasetSource

__all__ = [
    "Dataset",
    "DatasetSource",
    "NumpyDataset",
    "PandasDataset",
    "from_dict",
    "from_numpy",
    "from_pandas",
]
