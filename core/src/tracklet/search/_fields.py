"""What may be searched and ordered: entity prefixes, attribute names, operators.

The tables follow MLflow's ``SearchUtils`` and ``SearchExperimentsUtils``; where
tracklet accepts more (``IN`` on any string field, ``attributes.`` for
experiments) the comment says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tracklet.search._ast import ATTRIBUTE, DATASET, METRIC, PARAM, TAG, EntityType, Op

Kind = Literal["run", "experiment"]

NUMERIC_OPS: frozenset[str] = frozenset({"=", "!=", "<", "<=", ">", ">="})
# MLflow allows IN/NOT IN on run_id, experiment_id and datasets only; tracklet on any string.
_STRING_OPS: frozenset[str] = frozenset({"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"})
_NULLABLE_OPS: frozenset[str] = _STRING_OPS | {"IS NULL", "IS NOT NULL"}

_ATTRIBUTE_PREFIXES = {"attribute": ATTRIBUTE, "attributes": ATTRIBUTE, "attr": ATTRIBUTE}
_TAG_PREFIXES = {"tag": TAG, "tags": TAG}
_PREFIXES: dict[Kind, dict[str, EntityType]] = {
    "run": {
        **_ATTRIBUTE_PREFIXES,
        **_TAG_PREFIXES,
        "run": ATTRIBUTE,
        "metric": METRIC,
        "metrics": METRIC,
        "param": PARAM,
        "params": PARAM,
        "parameter": PARAM,
        "parameters": PARAM,
        "dataset": DATASET,
        "datasets": DATASET,
    },
    # MLflow accepts only "attribute." here; the other spellings cost nothing.
    "experiment": {**_ATTRIBUTE_PREFIXES, **_TAG_PREFIXES},
}

# attribute name (as written) -> canonical name
_ATTRIBUTES: dict[Kind, dict[str, str]] = {
    "run": {
        **{
            name: name
            for name in ("run_id", "run_name", "user_id", "status", "start_time", "end_time", "artifact_uri")
        },
        "created": "start_time",
        "Created": "start_time",
        "run name": "run_name",
        "Run name": "run_name",
        "Run Name": "run_name",
    },
    "experiment": {name: name for name in ("name", "experiment_id", "creation_time", "last_update_time")},
}
_NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "creation_time", "last_update_time"})
_DATASET_KEYS = ("name", "digest", "context")


class FieldError(ValueError):
    """A field or operator the grammar does not allow; ``valid`` lists what it does."""

    def __init__(self, problem: str, valid: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.valid = valid


@dataclass(frozen=True)
class Field:
    """A resolved left-hand side: entity type, canonical key, and its value type."""

    entity_type: EntityType
    key: str
    numeric: bool

    @property
    def label(self) -> str:
        """How error messages name the field, e.g. ``metric 'loss'``."""
        return f"{self.entity_type} {self.key!r}"

    def valid_ops(self) -> frozenset[str]:
        """The operators this field accepts."""
        if self.numeric:
            return NUMERIC_OPS
        if self.entity_type in (PARAM, TAG):
            return _NULLABLE_OPS
        return _STRING_OPS


def resolve_field(prefix: str | None, key: str, kind: Kind) -> Field:
    """Turn ``prefix.key`` (prefix None for a bare attribute) into a :class:`Field`.

    Raises :class:`FieldError`; the parser adds the position.
    """
    if prefix is None:
        entity_type: EntityType = ATTRIBUTE
    elif prefix in _PREFIXES[kind]:
        entity_type = _PREFIXES[kind][prefix]
    else:
        raise FieldError(f"unknown entity type {prefix!r}", ", ".join(sorted(_PREFIXES[kind])))
    if entity_type == ATTRIBUTE:
        attributes = _ATTRIBUTES[kind]
        if key not in attributes:
            raise FieldError(f"invalid attribute key {key!r}", ", ".join(sorted(set(attributes.values()))))
        key = attributes[key]
        return Field(ATTRIBUTE, key, key in _NUMERIC_ATTRIBUTES)
    if entity_type == DATASET and key not in _DATASET_KEYS:
        raise FieldError(f"invalid dataset key {key!r}", ", ".join(_DATASET_KEYS))
    return Field(entity_type, key, entity_type == METRIC)


def check_orderable(field: Field, kind: Kind) -> None:
    """Order-by accepts metrics, params, tags and attributes for runs; attributes for experiments."""
    allowed: tuple[EntityType, ...] = (METRIC, PARAM, TAG, ATTRIBUTE) if kind == "run" else (ATTRIBUTE,)
    if field.entity_type not in allowed:
        raise FieldError(f"cannot order {kind}s by {field.entity_type}", ", ".join(allowed))


def check_op(field: Field, op: Op) -> None:
    """Raise :class:`FieldError` if ``op`` does not suit ``field``."""
    valid = field.valid_ops()
    if op not in valid:
        order = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL")
        listed = ", ".join(o for o in order if o in valid)
        raise FieldError(f"comparator {op!r} is not valid for {field.label}", listed)
