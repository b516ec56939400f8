"""What may be searched and ordered: entity prefixes, attribute names, operators.

The tables follow MLflow's ``SearchUtils``, ``SearchExperimentsUtils``,
``SearchModelUtils``, ``SearchModelVersionUtils`` and ``SearchLoggedModelsUtils``; where
tracklet accepts more (``IN`` on any string field, ``attributes.`` for experiments,
``IS [NOT] NULL`` on registry tags) the comment says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tracklet.search._ast import ATTRIBUTE, DATASET, METRIC, PARAM, TAG, EntityType, Op

Kind = Literal["run", "experiment", "registered_model", "model_version", "logged_model"]

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
    # MLflow accepts "attribute", "tag" and "tags" for the registry.
    "registered_model": {**_ATTRIBUTE_PREFIXES, **_TAG_PREFIXES},
    "model_version": {**_ATTRIBUTE_PREFIXES, **_TAG_PREFIXES},
    "logged_model": {
        **_ATTRIBUTE_PREFIXES,
        **_TAG_PREFIXES,
        "metric": METRIC,
        "metrics": METRIC,
        "param": PARAM,
        "params": PARAM,
        "parameter": PARAM,
        "parameters": PARAM,
    },
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
    "registered_model": {name: name for name in ("name", "creation_timestamp", "last_updated_timestamp")},
    "model_version": {
        name: name
        for name in (
            "name",
            "version_number",
            "run_id",
            "source_path",
            "creation_timestamp",
            "last_updated_timestamp",
        )
    },
    "logged_model": {
        **{
            name: name
            for name in (
                "name",
                "model_id",
                "model_type",
                "status",
                "source_run_id",
                "creation_timestamp",
                "last_updated_timestamp",
            )
        },
        "creation_time": "creation_timestamp",
        "last_updated_time": "last_updated_timestamp",
    },
}
# Attributes a kind may filter on, or order by, when not every attribute may (MLflow's sets).
_FILTERABLE: dict[str, frozenset[str]] = {
    "registered_model": frozenset({"name"}),
    "model_version": frozenset({"name", "version_number", "run_id", "source_path"}),
}
_ORDERABLE: dict[str, frozenset[str]] = {
    "model_version": frozenset({"name", "version_number", "creation_timestamp", "last_updated_timestamp"}),
}
_NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "creation_time", "last_update_time"})
_REGISTRY_NUMERIC_ATTRIBUTES = frozenset({"version_number", "creation_timestamp", "last_updated_timestamp"})
#: The kinds searched in the registry (registered models, model versions, logged models).
REGISTRY_KINDS = frozenset({"registered_model", "model_version", "logged_model"})
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


def resolve_field(prefix: str | None, key: str, kind: Kind, purpose: str = "filter") -> Field:
    """Turn ``prefix.key`` (prefix None for a bare attribute) into a :class:`Field`.

    ``purpose`` (``"filter"`` or ``"order"``) narrows the attributes of the kinds that
    filter on fewer than they order by (registered models, model versions).
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
        narrowed = (_FILTERABLE if purpose == "filter" else _ORDERABLE).get(kind)
        if narrowed is not None:
            attributes = {k: v for k, v in attributes.items() if v in narrowed}
        if key not in attributes:
            raise FieldError(f"invalid attribute key {key!r}", ", ".join(sorted(set(attributes.values()))))
        key = attributes[key]
        numeric = _REGISTRY_NUMERIC_ATTRIBUTES if kind in REGISTRY_KINDS else _NUMERIC_ATTRIBUTES
        return Field(ATTRIBUTE, key, key in numeric)
    if entity_type == DATASET and key not in _DATASET_KEYS:
        raise FieldError(f"invalid dataset key {key!r}", ", ".join(_DATASET_KEYS))
    return Field(entity_type, key, entity_type == METRIC)


def check_orderable(field: Field, kind: Kind) -> None:
    """Order-by accepts metrics, params, tags and attributes for runs; attributes otherwise
    (model versions: name, version_number, creation_timestamp, last_updated_timestamp)."""
    allowed: tuple[EntityType, ...] = (METRIC, PARAM, TAG, ATTRIBUTE) if kind == "run" else (ATTRIBUTE,)
    if field.entity_type not in allowed:
        raise FieldError(f"cannot order {kind}s by {field.entity_type}", ", ".join(allowed))
    orderable = _ORDERABLE.get(kind)
    if orderable is not None and field.key not in orderable:
        raise FieldError(f"cannot order {kind}s by {field.key!r}", ", ".join(sorted(orderable)))


def check_filterable(field: Field, kind: Kind) -> None:
    """Registered models filter on ``name`` and tags; model versions on ``name``,
    ``version_number``, ``run_id``, ``source_path`` and tags (MLflow's sets)."""
    filterable = _FILTERABLE.get(kind)
    if field.entity_type == ATTRIBUTE and filterable is not None and field.key not in filterable:
        raise FieldError(f"invalid attribute key {field.key!r}", ", ".join(sorted(filterable)))


def check_op(field: Field, op: Op) -> None:
    """Raise :class:`FieldError` if ``op`` does not suit ``field``."""
    valid = field.valid_ops()
    if op not in valid:
        order = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL")
        listed = ", ".join(o for o in order if o in valid)
        raise FieldError(f"comparator {op!r} is not valid for {field.label}", listed)
