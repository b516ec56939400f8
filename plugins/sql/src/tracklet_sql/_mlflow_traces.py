"""Trace metadata MLflow keeps in ``trace_info`` columns rather than as metadata rows.

From revision ``75868b020152`` (MLflow 3.17), MLflow's store promotes three metadata
keys of a trace to columns and keeps no metadata row for them: ``mlflow.trace.session``
(``session_id``), ``mlflow.trace.tokenUsage`` (a JSON object, one column per count) and
``mlflow.trace.cost`` (one column per cost); it reads them back as metadata built from
the columns. tracklet-sql does the same on such a database, with MLflow's rules: a count
is kept only when it is a whole number in BIGINT range, a cost only when finite.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "PROMOTED_KEYS",
    "SESSION_KEY",
    "columns_from_metadata",
    "metadata_from_columns",
    "PROMOTED_COLUMNS",
]

SESSION_KEY = "mlflow.trace.session"
TOKEN_USAGE_KEY = "mlflow.trace.tokenUsage"
COST_KEY = "mlflow.trace.cost"
PROMOTED_KEYS = frozenset({SESSION_KEY, TOKEN_USAGE_KEY, COST_KEY})
#: Item of the token usage object -> column (MLflow's order, which its JSON keeps).
TOKEN_COLUMNS = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "total_tokens": "total_tokens",
    "cache_read_input_tokens": "cache_read_input_tokens",
    "cache_creation_input_tokens": "cache_creation_input_tokens",
    "cache_creation_input_tokens_above_1hr": "cache_creation_input_tokens_above_1hr",
}
COST_COLUMNS = {"input_cost": "input_cost", "output_cost": "output_cost", "total_cost": "total_cost"}
#: Every promoted column, session first.
PROMOTED_COLUMNS = ("session_id", *TOKEN_COLUMNS.values(), *COST_COLUMNS.values())
_BIGINT = (-(2**63), 2**63 - 1)


def _object(value: Any) -> dict[str, Any]:
    try:
        loaded = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _count(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if (
        not number.is_finite()
        or number != number.to_integral_value()
        or not _BIGINT[0] <= number <= _BIGINT[1]
    ):
        return None
    return int(number)


def _cost(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def columns_from_metadata(metadata: dict[str, str]) -> dict[str, Any]:
    """The promoted columns' values for a trace's metadata (None where not given)."""
    out: dict[str, Any] = dict.fromkeys(PROMOTED_COLUMNS)
    out["session_id"] = metadata.get(SESSION_KEY)
    usage = _object(metadata.get(TOKEN_USAGE_KEY))
    for key, column in TOKEN_COLUMNS.items():
        out[column] = _count(usage.get(key))
    cost = _object(metadata.get(COST_KEY))
    for key, column in COST_COLUMNS.items():
        out[column] = _cost(cost.get(key))
    return out


def metadata_from_columns(row: dict[str, Any]) -> dict[str, str]:
    """The metadata MLflow reads back from the promoted columns of a row."""
    metadata = {}
    if row.get("session_id") is not None:
        metadata[SESSION_KEY] = str(row["session_id"])
    usage = {
        key: count for key, column in TOKEN_COLUMNS.items() if (count := _count(row.get(column))) is not None
    }
    if usage:
        metadata[TOKEN_USAGE_KEY] = json.dumps(usage)
    cost = {key: row[column] for key, column in COST_COLUMNS.items() if row.get(column) is not None}
    if cost:
        metadata[COST_KEY] = json.dumps(cost)
    return metadata
