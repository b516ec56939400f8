"""Schemas and profiles stored with datasets, in MLflow's JSON shapes: ``mlflow_colspec``
for DataFrames, ``mlflow_tensorspec`` for arrays."""

from __future__ import annotations

import json
from typing import Any


class _Unknown(Exception):
    """A column whose type tracklet does not infer (MLflow may): the schema is left out."""


def _numpy_type(dtype: Any) -> str:
    """MLflow's column type for a numpy or pandas dtype (``long``, ``double``…)."""
    kind, size = dtype.kind, dtype.itemsize
    if kind == "b":
        return "boolean"
    if kind in "iu":
        if size < 4 or (kind == "i" and size == 4):
            return "integer"
        if size < 8 or (kind == "i" and size == 8):
            return "long"
    elif kind == "f":
        if size <= 4:
            return "float"
        if size <= 8:
            return "double"
    elif kind == "U":
        return "string"
    elif kind == "S":
        return "binary"
    elif kind == "M":
        return "datetime"
    raise _Unknown(str(dtype))


def _object_type(values: list[Any]) -> str:
    present = [v for v in values if v is not None and not (isinstance(v, float) and v != v)]
    if not present:
        return "any"
    for python_type, name in ((str, "string"), (bytes, "binary"), (bool, "boolean")):
        if all(isinstance(v, python_type) for v in present):
            return name
    raise _Unknown("mixed values")


def _column_type(column: Any) -> str:
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object)
    if column.dtype.kind == "O":
        column = column.infer_objects()
    if column.dtype.kind == "O":
        return _object_type(column.to_list())
    return _numpy_type(column.dtype)


def pandas_schema(df: Any) -> str | None:
    """``{"mlflow_colspec": [{"type", "name", "required"}…]}`` as JSON, or None when a
    column's type is not inferred (nested or mixed values)."""
    try:
        specs = [
            {"type": _column_type(df[name]), "name": name, "required": not bool(df[name].isna().any())}
            for name in df.columns
        ]
    except _Unknown:
        return None
    return json.dumps({"mlflow_colspec": specs})


def _tensor_specs(item: Any) -> str | None:
    if item is None:
        return None
    named = list(item.items()) if isinstance(item, dict) else [(None, item)]
    specs = []
    for name, array in named:
        spec: dict[str, Any] = {} if name is None else {"name": name}
        dtype = {"U": "str", "S": "bytes", "O": "object"}.get(array.dtype.kind, array.dtype.name)
        spec.update({"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": [-1, *array.shape[1:]]}})
        specs.append(spec)
    return json.dumps(specs)


def numpy_schema(features: Any, targets: Any) -> str:
    """``{"mlflow_tensorspec": {"features": …, "targets": …}}`` as JSON (each a JSON list)."""
    return json.dumps(
        {"mlflow_tensorspec": {"features": _tensor_specs(features), "targets": _tensor_specs(targets)}}
    )


def numpy_profile(features: Any, targets: Any) -> str:
    """Shape, size and bytes of the features (and targets), per key for dicts of arrays."""
    profile: dict[str, Any] = {}
    for prefix, item in (("features", features), ("targets", targets)):
        if item is None:
            continue
        for field in ("shape", "size", "nbytes"):
            if isinstance(item, dict):
                profile[f"{prefix}_{field}"] = {k: _plain(getattr(v, field)) for k, v in item.items()}
            else:
                profile[f"{prefix}_{field}"] = _plain(getattr(item, field))
    return json.dumps(profile)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else int(value)
