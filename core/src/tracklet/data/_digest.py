"""MLflow's dataset digests (``mlflow.data.digest_utils``), computed the same way so that
one dataset logged by MLflow and by tracklet carries one digest."""

from __future__ import annotations

import hashlib
from typing import Any

MAX_ROWS = 10000


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError as e:
        raise ImportError(
            "tracklet.data needs pandas and numpy to compute a dataset's digest as MLflow does: "
            "pip install pandas numpy (or pass digest=...)"
        ) from e
    return pd


def pandas_digest(df: Any) -> str:
    """MD5 over the first 10,000 rows of the string and numeric columns, the row count and
    the column names; 8 hex characters."""
    import numpy as np

    pd = _pandas()

    trimmed = df.head(MAX_ROWS)
    types = df.map(type) if hasattr(df, "map") else df.applymap(type)
    string_columns = trimmed.columns[(types == str).all(axis=0)]  # noqa: E721 (element-wise, as MLflow)
    numeric_columns = trimmed.select_dtypes(include=[np.number]).columns
    trimmed = trimmed[string_columns.union(numeric_columns)]
    return _md5(
        [pd.util.hash_pandas_object(trimmed).values, np.int64(len(df))]
        + [str(column).encode() for column in df.columns]
    )


def numpy_digest(features: Any, targets: Any = None) -> str:
    """MD5 over the first 10,000 flattened values and the shape of each array (a dict's
    arrays in key order), features then targets; 8 hex characters."""
    import numpy as np

    pd = _pandas()

    elements: list[Any] = []

    def add(array: Any) -> None:
        trimmed = array.flatten()[0:MAX_ROWS]
        try:
            elements.append(pd.util.hash_array(trimmed))
        except TypeError:
            elements.append(np.int64(trimmed.size))
        elements.extend(np.int64(x) for x in array.shape)

    for item in (features, targets):
        if item is None:
            continue
        if isinstance(item, dict):
            for key in sorted(item):
                add(item[key])
        else:
            add(item)
    return _md5(elements)


def _md5(elements: list[Any]) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    for element in elements:
        md5.update(element)
    return md5.hexdigest()[:8]
