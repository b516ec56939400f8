"""Trace search: MLflow 3.17's ``SearchTraceUtils`` fields on tracklet's grammar.

The grammar is run search's (``AND``, tracklet's ``OR`` and parentheses, quoted values,
``IN`` lists); the fields are MLflow's trace fields. :func:`parse_trace_filter` turns a
filter into the AST of :mod:`tracklet.search._ast`; :func:`parse_trace_order_by` turns
order-by clauses into the complete order; :func:`filter_traces` evaluates both over
:class:`~tracklet.entities.TraceInfo` objects in memory (the file store);
:func:`search_traces_in_memory` adds MLflow's offset page tokens. A SQL store compiles
the same AST.

What a compiler meets (every alias is resolved by the parser):

* ``Comparison("attribute", key, op, value)`` where ``key`` is one of

  ============================  ==================================  ====================
  key                           TraceInfo field                     value / operators
  ============================  ==================================  ====================
  ``trace_id``                  ``trace_id``                        str: ``= != LIKE
                                                                    ILIKE IN NOT IN``
  ``client_request_id``         ``client_request_id``               str: same
  ``status``                    ``state.value`` (``OK``, ``ERROR``, str: same
                                ``IN_PROGRESS``,
                                ``STATE_UNSPECIFIED``)
  ``timestamp_ms``              ``request_time``                    int: ``= != < <= >
                                                                    >=``
  ``execution_time_ms``         ``execution_duration``              int: same
  ``end_time_ms``               ``request_time +                    int: same
                                execution_duration`` (NULL while
                                the duration is)
  ============================  ==================================  ====================

  Spellings resolved to these: ``request_id`` (MLflow's name) -> ``trace_id``;
  ``timestamp`` -> ``timestamp_ms``; ``execution_time`` -> ``execution_time_ms``;
  ``end_time`` -> ``end_time_ms``; tracklet's ``state`` -> ``status``; prefixes
  ``attribute.``, ``attributes.``, ``trace.`` or none.
* ``Comparison("tag", key, op, value)``: the trace tag ``key`` (``tags.<key>`` or
  ``tag.<key>``); ``name`` is the tag ``mlflow.traceName`` and ``prompt`` the tag
  ``mlflow.linkedPrompts``. String operators plus ``IS NULL`` / ``IS NOT NULL``.
* ``Comparison("metadata", key, op, value)`` (:data:`METADATA`): the trace's request
  metadata ``key`` (``metadata.<key>`` or ``request_metadata.<key>``); ``run_id`` is
  the metadata ``mlflow.sourceRun``. Operators as for tags.
* ``And(items)``, ``Or(items)``: as for runs (flattened, two or more items).

As in MLflow, ``name``, ``prompt`` and ``run_id`` resolve whatever prefix they are
written with (``tags.name`` is the trace name). A trace lacking a tag, a metadata key,
or a duration matches no comparison on it except ``IS NULL``. Span and assessment
fields (``span.*``, ``text``, ``feedback.*``, ``expectation.*``, ``issue.*``) are refused
with ``INVALID_PARAMETER_VALUE``, as MLflow's in-memory search refuses them; so is
``RLIKE``, which tracklet's grammar does not have.

Order-by keys are ``OrderKey("attribute", key, ascending)`` with ``key`` one of
``trace_id``, ``timestamp_ms``, ``execution_time_ms``, ``end_time_ms``, ``status``,
``experiment_id`` (numeric ids compare as numbers), or ``OrderKey("tag" | "metadata",
key, ascending)`` (``name``, ``run_id`` resolved as above). Items without a value sort
last whatever the direction. :func:`parse_trace_order_by` returns the complete order: the
caller's keys (each at most once), then ``timestamp_ms DESC`` and ``trace_id ASC`` unless
named (MLflow's default order and tie-breaker).

Page tokens are MLflow's: base64 of ``{"offset": N}``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.search._ast import ATTRIBUTE, TAG, Comparison, EntityType, Expr, OrderKey, Value
from tracklet.search._evaluate import _clause, _compile
from tracklet.search._fields import NUMERIC_OPS, Field, FieldError
from tracklet.search._paging import decode_page_token, encode_page_token
from tracklet.search._parser import (
    _CACHED_FILTER_LENGTH,
    MAX_FILTER_LENGTH,
    MAX_ORDER_BY_CLAUSE_LENGTH,
    MAX_ORDER_BY_CLAUSES,
    _number,
    _Parser,
    check_search_text,
)
from tracklet.search._sort import _sort_by

if TYPE_CHECKING:
    from tracklet.entities import TraceInfo

__all__ = [
    "METADATA",
    "TraceSearch",
    "compile_trace_filter",
    "filter_traces",
    "make_trace_search",
    "parse_trace_filter",
    "parse_trace_order_by",
    "search_traces_in_memory",
    "sort_traces",
    "trace_getter",
]

#: The entity type of request-metadata comparisons in a trace filter (``metadata.<key>``).
METADATA: EntityType = cast(EntityType, "metadata")

_TRACE_NAME_TAG = "mlflow.traceName"
_LINKED_PROMPTS_TAG = "mlflow.linkedPrompts"
_SOURCE_RUN_METADATA = "mlflow.sourceRun"

_STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"})
_NULLABLE_OPS = _STRING_OPS | {"IS NULL", "IS NOT NULL"}

_PREFIXES: dict[str, EntityType] = {
    "attribute": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "trace": ATTRIBUTE,
    "tag": TAG,
    "tags": TAG,
    "metadata": METADATA,
    "request_metadata": METADATA,
}
_UNSUPPORTED_PREFIXES = ("span", "feedback", "expectation", "issue")
# attribute as written -> canonical attribute
_FILTER_ATTRIBUTES = {
    "trace_id": "trace_id",
    "request_id": "trace_id",
    "client_request_id": "client_request_id",
    "status": "status",
    "state": "status",
    "timestamp": "timestamp_ms",
    "timestamp_ms": "timestamp_ms",
    "execution_time": "execution_time_ms",
    "execution_time_ms": "execution_time_ms",
    "end_time": "end_time_ms",
    "end_time_ms": "end_time_ms",
}
_ORDER_ATTRIBUTES = {
    **{k: v for k, v in _FILTER_ATTRIBUTES.items() if v != "client_request_id"},
    "experiment_id": "experiment_id",
}
_NUMERIC = frozenset({"timestamp_ms", "execution_time_ms", "end_time_ms"})
# MLflow maps these keys (compared lower-cased), whatever their prefix.
_MAPPED: dict[str, tuple[EntityType, str]] = {
    "name": (TAG, _TRACE_NAME_TAG),
    "prompt": (TAG, _LINKED_PROMPTS_TAG),
    "run_id": (METADATA, _SOURCE_RUN_METADATA),
}
_DEFAULT_ORDER = (OrderKey(ATTRIBUTE, "timestamp_ms", False), OrderKey(ATTRIBUTE, "trace_id", True))


def _bad(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


@dataclasses.dataclass(frozen=True)
class _TraceField(Field):
    ops: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        return f"trace {self.entity_type} {self.key!r}"

    def valid_ops(self) -> frozenset[str]:
        return self.ops


def _resolve(prefix: str | None, key: str, purpose: str) -> _TraceField:
    if prefix is None:
        entity_type: EntityType = ATTRIBUTE
    elif prefix in _PREFIXES:
        entity_type = _PREFIXES[prefix]
    elif prefix in _UNSUPPORTED_PREFIXES:
        raise FieldError(
            f"traces cannot be searched on {prefix} fields in tracklet ({prefix}.{key})",
            "attributes, tags.<key>, metadata.<key>",
        )
    else:
        raise FieldError(f"unknown entity type {prefix!r}", ", ".join(sorted(_PREFIXES)))
    if entity_type == ATTRIBUTE and key == "text":
        raise FieldError(
            "traces cannot be searched on span content ('text') in tracklet",
            "attributes, tags.<key>, metadata.<key>",
        )
    mapped = _MAPPED.get(key.lower())
    if mapped is not None and (entity_type != ATTRIBUTE or key in _MAPPED):
        if purpose == "order" and key.lower() == "prompt":
            raise FieldError(f"cannot order traces by {key!r}", ", ".join(sorted(_ORDER_ATTRIBUTES)))
        return _TraceField(mapped[0], mapped[1], False, _NULLABLE_OPS)
    if entity_type == ATTRIBUTE:
        attributes = _FILTER_ATTRIBUTES if purpose == "filter" else _ORDER_ATTRIBUTES
        if key not in attributes:
            valid = sorted({*attributes, *(k for k in _MAPPED if purpose == "filter" or k != "prompt")})
            raise FieldError(f"invalid attribute key {key!r}", ", ".join(valid))
        canonical = attributes[key]
        numeric = canonical in _NUMERIC
        return _TraceField(ATTRIBUTE, canonical, numeric, NUMERIC_OPS if numeric else _STRING_OPS)
    return _TraceField(entity_type, key, False, _NULLABLE_OPS)


class _TraceParser(_Parser):
    """Run search's parser over trace fields (``kind`` is unused by the overrides)."""

    def __init__(self, source: str, what: str) -> None:
        super().__init__(source, "run", what)

    def _field(self, expected: str, purpose: str = "filter") -> tuple[Field, Any]:
        token = self.current
        if token.kind == "IDENT":
            prefix, key = token.prefix, token.value
        elif token.kind == "STRING" and token.text.startswith('"'):
            prefix, key = None, token.value
        else:
            self._unexpected(
                "expected a trace field such as status, timestamp_ms, name, run_id, tags.<key> "
                "or metadata.<key>"
            )
        self._advance()
        try:
            return _resolve(prefix, key, purpose), token
        except FieldError as exc:
            raise self._field_error(exc, token) from None

    def _scalar(self, field: Field) -> Value:
        token = self.current
        if field.numeric and token.kind == "STRING":
            # MLflow passes a quoted number through to SQL, which reads it as a number.
            text = str(token.value).strip()
            if text.lstrip("-").isdigit():
                self._advance()
                return int(text)
        if field.numeric and token.kind == "NUMBER":
            self._advance()
            return _number(token.text, as_float=False)
        return super()._scalar(field)

    def parse_order_key(self) -> OrderKey:
        field, _token = self._field("", "order")
        direction = self._accept_keyword("ASC", "DESC")
        if self.current.kind != "EOF":
            self._unexpected("expected the end of the clause" if direction else "expected ASC or DESC")
        return OrderKey(field.entity_type, field.key, direction != "DESC")


def _parse(filter_string: str) -> Expr | None:
    if not filter_string.strip():
        return None
    return _TraceParser(filter_string, "filter").parse_filter()


@lru_cache(maxsize=256)
def _parse_cached(filter_string: str) -> Expr | None:
    return _parse(filter_string)


@lru_cache(maxsize=256)
def _order_key_cached(clause: str) -> OrderKey:
    return _TraceParser(clause, "order_by clause").parse_order_key()


def parse_trace_filter(filter_string: str | None) -> Expr | None:
    """A trace filter (see the module docstring for its fields) as an AST; None for no
    filter (None, ``""``, blanks).

    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` naming the offending token and
        its position, or the search limits exceeded (as for runs).
    """
    if filter_string is None:
        return None
    if not isinstance(filter_string, str):
        raise _bad(f"Invalid filter {filter_string!r}: expected a string")
    check_search_text("filter", filter_string, MAX_FILTER_LENGTH)
    if len(filter_string) > _CACHED_FILTER_LENGTH:
        return _parse(filter_string)
    return _parse_cached(filter_string)


def parse_trace_order_by(order_by: Sequence[str] | None) -> list[OrderKey]:
    """The complete order of a trace search: the caller's keys (each field at most once,
    MLflow's refusal otherwise), then ``timestamp_ms DESC`` and ``trace_id ASC`` unless
    already named."""
    if order_by is None:
        return list(_DEFAULT_ORDER)
    if isinstance(order_by, (str, bytes)) or not hasattr(order_by, "__iter__"):
        raise _bad(f"Invalid order_by {order_by!r}: expected a list of strings such as ['timestamp_ms DESC']")
    clauses = list(order_by)
    if len(clauses) > MAX_ORDER_BY_CLAUSES:
        raise _bad(
            f"Invalid order_by: {len(clauses)} clauses; a search may be ordered by at most "
            f"{MAX_ORDER_BY_CLAUSES}."
        )
    keys: list[OrderKey] = []
    seen: set[tuple[str, str]] = set()
    for clause in clauses:
        if not isinstance(clause, str):
            raise _bad(f"Invalid order_by clause {clause!r}: expected a string")
        check_search_text("order_by clause", clause, MAX_ORDER_BY_CLAUSE_LENGTH)
        key = _order_key_cached(clause)
        if (key.entity_type, key.key) in seen:
            raise _bad(f"`order_by` contains duplicate fields: {clauses}")
        seen.add((key.entity_type, key.key))
        keys.append(key)
    return _complete(keys)


def _complete(keys: Sequence[OrderKey]) -> list[OrderKey]:
    full = list(keys)
    for default in _DEFAULT_ORDER:
        if not any(k.entity_type == ATTRIBUTE and k.key == default.key for k in full):
            full.append(default)
    return full


# == evaluation =================================================================================


def _end_time(info: TraceInfo) -> int | None:
    duration = info.execution_duration
    return None if duration is None else info.request_time + duration


def _experiment_id_key(info: TraceInfo) -> tuple[int, int | str]:
    experiment_id = str(info.experiment_id)
    if experiment_id.isascii() and experiment_id.isdecimal():
        return (0, int(experiment_id))
    return (1, experiment_id)


_ATTRIBUTE_GETTERS: dict[str, Callable[[TraceInfo], Any]] = {
    "trace_id": lambda info: info.trace_id,
    "client_request_id": lambda info: info.client_request_id,
    "status": lambda info: getattr(info.state, "value", info.state),
    "timestamp_ms": lambda info: info.request_time,
    "execution_time_ms": lambda info: info.execution_duration,
    "end_time_ms": _end_time,
    "experiment_id": _experiment_id_key,
}


def trace_getter(entity_type: str, key: str) -> Callable[[TraceInfo], Any]:
    """Read one field of a trace info: an attribute (canonical key), a tag or metadata."""
    if entity_type == TAG:
        return lambda info: info.tags.get(key)
    if entity_type == METADATA:
        return lambda info: info.trace_metadata.get(key)
    if entity_type == ATTRIBUTE and key in _ATTRIBUTE_GETTERS:
        return _ATTRIBUTE_GETTERS[key]
    raise AssertionError(f"no trace getter for {entity_type!r} {key!r}")


def _trace_leaf(comparison: Comparison) -> Callable[[TraceInfo], bool]:
    return _clause(trace_getter(comparison.entity_type, comparison.key), comparison)


@lru_cache(maxsize=256)
def compile_trace_filter(expr: Expr | None) -> Callable[[TraceInfo], bool]:
    """A predicate telling whether a :class:`~tracklet.entities.TraceInfo` matches ``expr``."""
    if expr is None:
        return lambda info: True
    return _compile(expr, _trace_leaf)


def sort_traces(infos: Iterable[TraceInfo], order: Sequence[OrderKey]) -> list[TraceInfo]:
    """``infos`` in ``order`` completed with the default keys (see
    :func:`parse_trace_order_by`)."""
    keys = _complete(order)
    return _sort_by(list(infos), [(trace_getter(k.entity_type, k.key), k.ascending) for k in keys])


def filter_traces(
    infos: Iterable[TraceInfo], parsed_filter: Expr | None, parsed_order: Sequence[OrderKey] = ()
) -> list[TraceInfo]:
    """The infos matching ``parsed_filter`` (from :func:`parse_trace_filter`), in
    ``parsed_order`` (from :func:`parse_trace_order_by`; default and tie-breakers added
    when missing)."""
    predicate = compile_trace_filter(parsed_filter)
    return sort_traces((info for info in infos if predicate(info)), parsed_order)


# == a whole search =============================================================================


@dataclasses.dataclass(frozen=True)
class TraceSearch:
    """A checked trace search, as :meth:`tracklet.stores.TraceStore.search_traces`
    hands it to a store's ``_search_traces``.

    ``filter``/``order`` are parsed (what a SQL store compiles); ``filter_string``,
    ``order_by`` and ``page_token`` are the caller's text (what the HTTP store sends on);
    ``offset`` is ``page_token`` decoded (0 for the first page).
    """

    experiment_ids: tuple[str, ...]
    filter_string: str | None
    filter: Expr | None
    order_by: tuple[str, ...]
    order: tuple[OrderKey, ...]
    max_results: int
    page_token: str | None
    offset: int


def make_trace_search(
    experiment_ids: Sequence[str],
    filter_string: str | None,
    max_results: int,
    order_by: Sequence[str] | None,
    page_token: str | None,
) -> TraceSearch:
    """Parse and check a search's filter, order and page token (experiment ids and
    ``max_results`` are the caller's to check). Raises ``INVALID_PARAMETER_VALUE``."""
    parsed = parse_trace_filter(filter_string)
    order = parse_trace_order_by(order_by)
    if page_token is not None and not isinstance(page_token, str):
        raise _bad(f"Invalid page_token {page_token!r}: it must be the string a previous page returned.")
    offset = decode_page_token(page_token)
    return TraceSearch(
        experiment_ids=tuple(experiment_ids),
        filter_string=filter_string if parsed is not None else None,
        filter=parsed,
        order_by=tuple(order_by or ()),
        order=tuple(order),
        max_results=max_results,
        page_token=page_token or None,
        offset=offset,
    )


def search_traces_in_memory(
    infos: Iterable[TraceInfo], search: TraceSearch
) -> tuple[list[TraceInfo], str | None]:
    """One page of ``search`` over ``infos`` (the infos of the searched experiments, or
    more: those of other experiments are left out here)."""
    wanted = set(search.experiment_ids)
    kept = filter_traces(
        (info for info in infos if str(info.experiment_id) in wanted), search.filter, search.order
    )
    end = search.offset + search.max_results
    token = encode_page_token(end) if end < len(kept) else None
    return kept[search.offset : end], token
