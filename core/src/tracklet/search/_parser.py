"""Recursive-descent parser: filter strings and order-by entries to the AST.

Filter grammar (keywords in any case; AND binds tighter than OR)::

    filter     := or_expr EOF
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := primary ("AND" primary)*
    primary    := "(" or_expr ")" | comparison
    comparison := IDENT ( OP value
                        | ["NOT"] "IN" "(" STRING ("," STRING)* [","] ")"
                        | ("LIKE" | "ILIKE") STRING
                        | "IS" ["NOT"] "NULL" )
    value      := NUMBER | STRING

Order-by entry: ``IDENT ["ASC" | "DESC"] EOF``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import NoReturn

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.search._ast import METRIC, And, Comparison, Expr, Op, Or, OrderKey, Value
from tracklet.search._fields import (
    REGISTRY_KINDS,
    Field,
    FieldError,
    Kind,
    check_filterable,
    check_op,
    check_orderable,
    resolve_field,
)
from tracklet.search._lexer import LexError, Token, tokenize
from tracklet.validation import validate_text

_KINDS = ("run", "experiment", "registered_model", "model_version", "logged_model")

# Limits on one search. MLflow documents none: these keep a hostile request from holding a
# worker and a database connection for seconds (each comparison and order-by key becomes a
# subquery or a join: MariaDB refuses more than 61 tables in a join, PostgreSQL's planner
# takes seconds over some fifty semi-joins) and from filling the parse caches below.
#: Longest filter string, in characters.
MAX_FILTER_LENGTH = 500_000
#: Most comparisons (``<field> <op> <value>``) in one filter.
MAX_FILTER_COMPARISONS = 50
#: Most values in one filter's ``IN``/``NOT IN`` lists together.
MAX_FILTER_VALUES = 10_000
#: Deepest nesting of parentheses in a filter.
MAX_FILTER_DEPTH = 50
#: Most order-by clauses in one search.
MAX_ORDER_BY_CLAUSES = 20
#: Longest order-by clause, in characters (a key has at most 250).
MAX_ORDER_BY_CLAUSE_LENGTH = 1_000
# Filters up to this length are memoised; longer ones are parsed each time.
_CACHED_FILTER_LENGTH = 10_000


class _Parser:
    """Parses one source string; every error names the string, the token and its position."""

    def __init__(self, source: str, kind: Kind, what: str) -> None:
        self.source = source
        self.kind = kind
        self.what = what  # "filter" or "order_by clause", for messages
        try:
            self.tokens = tokenize(source)
        except LexError as exc:
            raise self._error(str(exc)) from None
        self.index = 0
        self.depth = 0  # open parentheses
        self.comparisons = 0
        self.values = 0  # in IN lists

    # -- token helpers -----------------------------------------------------------

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def _advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "EOF":
            self.index += 1
        return token

    def _at(self, kind: str) -> bool:
        return self.current.kind == kind

    def _accept_keyword(self, *words: str) -> str | None:
        token = self.current
        if token.kind == "KEYWORD" and token.value in words:
            self._advance()
            return str(token.value)
        return None

    def _expect_keyword(self, word: str) -> None:
        if self._accept_keyword(word) is None:
            self._unexpected(f"expected {word}")

    def _expect(self, kind: str, expected: str) -> Token:
        if self.current.kind != kind:
            self._unexpected(f"expected {expected}")
        return self._advance()

    def _error(self, detail: str) -> TrackletException:
        shown = repr(self.source) if len(self.source) <= 200 else repr(self.source[:200]) + "…"
        return TrackletException(f"Invalid {self.what} {shown}: {detail}", INVALID_PARAMETER_VALUE)

    def _unexpected(self, expected: str) -> NoReturn:
        token = self.current
        if token.kind == "EOF":
            raise self._error(f"unexpected end of input at position {token.pos}; {expected}")
        raise self._error(f"unexpected token {token.text!r} at position {token.pos}; {expected}")

    def _field_error(self, exc: FieldError, token: Token) -> TrackletException:
        return self._error(f"{exc.problem} at position {token.pos} (valid: {exc.valid})")

    def _field(self, expected: str, purpose: str = "filter") -> tuple[Field, Token]:
        """Read a field reference: an IDENT, or a double-quoted name such as "Run name"."""
        token = self.current
        if token.kind == "IDENT":
            prefix, key = token.prefix, token.value
        elif token.kind == "STRING" and token.text.startswith('"'):
            prefix, key = None, token.value
        else:
            self._unexpected(expected)
        self._advance()
        try:
            return resolve_field(prefix, key, self.kind, purpose), token
        except FieldError as exc:
            raise self._field_error(exc, token) from None

    # -- filter ------------------------------------------------------------------

    def parse_filter(self) -> Expr:
        expr = self._or_expr()
        if self.current.kind != "EOF":
            self._unexpected("expected AND, OR or the end of the filter")
        return expr

    def _or_expr(self) -> Expr:
        items = [self._and_expr()]
        while self._accept_keyword("OR"):
            items.append(self._and_expr())
        return _flatten(Or, items)

    def _and_expr(self) -> Expr:
        items = [self._primary()]
        while self._accept_keyword("AND"):
            items.append(self._primary())
        return _flatten(And, items)

    def _primary(self) -> Expr:
        if self.current.kind != "LPAREN":
            return self._comparison()
        if self.depth >= MAX_FILTER_DEPTH:  # keep hostile input from exhausting the stack
            raise self._error(
                f"parentheses nested deeper than {MAX_FILTER_DEPTH} at position {self.current.pos}; "
                f"a filter may nest at most {MAX_FILTER_DEPTH} levels"
            )
        self._advance()
        self.depth += 1
        expr = self._or_expr()
        self.depth -= 1
        self._expect("RPAREN", "')'")
        return expr

    def _comparison(self) -> Comparison:
        self.comparisons += 1
        if self.comparisons > MAX_FILTER_COMPARISONS:
            raise self._error(
                f"comparison number {self.comparisons} at position {self.current.pos}; a filter may "
                f"hold at most {MAX_FILTER_COMPARISONS} comparisons (use IN for many values of one field)"
            )
        field, field_token = self._field(
            "expected a field such as metrics.<key>, params.<key>, tags.<key> or an attribute"
        )
        try:
            check_filterable(field, self.kind)
        except FieldError as exc:
            raise self._field_error(exc, field_token) from None
        op_token = self.current
        op = self._operator()
        try:
            check_op(field, op)
        except FieldError as exc:
            raise self._field_error(exc, op_token) from None
        if op in ("IS NULL", "IS NOT NULL"):
            return Comparison(field.entity_type, field.key, op, None)
        if op in ("IN", "NOT IN"):
            return Comparison(field.entity_type, field.key, op, self._string_list(field))
        return Comparison(field.entity_type, field.key, op, self._scalar(field))

    def _operator(self) -> Op:
        token = self.current
        if token.kind == "OP":
            self._advance()
            return token.text  # type: ignore[return-value]
        if self._accept_keyword("IS"):
            negated = self._accept_keyword("NOT") is not None
            self._expect_keyword("NULL")
            return "IS NOT NULL" if negated else "IS NULL"
        if self._accept_keyword("NOT"):
            self._expect_keyword("IN")
            return "NOT IN"
        word = self._accept_keyword("IN", "LIKE", "ILIKE")
        if word is None:
            self._unexpected("expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL)")
        return word  # type: ignore[return-value]

    def _scalar(self, field: Field) -> Value:
        if not field.numeric:
            return self._string(field)
        token = self.current
        if token.kind == "STRING" and self.kind in REGISTRY_KINDS and field.entity_type != METRIC:
            # MLflow's registry searches read a quoted integer: version_number = '3'.
            text = str(token.value).strip()
            if text.lstrip("-").isdigit():
                self._advance()
                return int(text)
        if token.kind != "NUMBER":
            self._unexpected(f"expected a number for {field.label}")
        self._advance()
        return _number(token.text, as_float=field.entity_type == METRIC)

    def _string(self, field: Field) -> str:
        token = self.current
        if token.kind != "STRING":
            self._unexpected(f"expected a quoted string for {field.label}, e.g. 'my-value'")
        self._advance()
        return str(token.value)

    def _list_item(self, field: Field) -> str:
        self.values += 1
        if self.values > MAX_FILTER_VALUES:
            raise self._error(
                f"too many values at position {self.current.pos}; the IN lists of a filter may hold "
                f"at most {MAX_FILTER_VALUES} values in all"
            )
        return self._string(field)

    def _string_list(self, field: Field) -> tuple[str, ...]:
        self._expect("LPAREN", f"'(' and a list of quoted strings for {field.label}")
        items = [self._list_item(field)]
        while self._at("COMMA"):
            self._advance()
            if self._at("RPAREN"):  # a trailing comma, as in Python's ('a',)
                break
            items.append(self._list_item(field))
        self._expect("RPAREN", "',' or ')'")
        return tuple(items)

    # -- order by ----------------------------------------------------------------

    def parse_order_key(self) -> OrderKey:
        field, token = self._field("expected a field such as metrics.<key> or an attribute", "order")
        try:
            check_orderable(field, self.kind)
        except FieldError as exc:
            raise self._field_error(exc, token) from None
        direction = self._accept_keyword("ASC", "DESC")
        if self.current.kind != "EOF":
            self._unexpected("expected the end of the clause" if direction else "expected ASC or DESC")
        return OrderKey(field.entity_type, field.key, direction != "DESC")


def _flatten(node: type[And] | type[Or], items: list[Expr]) -> Expr:
    if len(items) == 1:
        return items[0]
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, node) else (item,))
    return node(tuple(flat))


def _number(text: str, as_float: bool) -> float | int:
    if not as_float and text.lstrip("-").isdigit():
        return int(text)
    return float(text)


def _check_kind(kind: str) -> Kind:
    if kind not in _KINDS:
        raise TrackletException(
            f"Invalid search kind {kind!r}: expected one of {', '.join(_KINDS)}", INVALID_PARAMETER_VALUE
        )
    return kind  # type: ignore[return-value]


def _parse_filter(filter_string: str, kind: Kind) -> Expr | None:
    if not filter_string.strip():
        return None
    return _Parser(filter_string, kind, "filter").parse_filter()


@lru_cache(maxsize=256)
def parse_filter_cached(filter_string: str, kind: Kind) -> Expr | None:
    """:func:`parse_filter` for a non-empty string, memoised (the AST is immutable)."""
    return _parse_filter(filter_string, kind)


def _too_long(what: str, text: str, limit: int) -> TrackletException:
    return TrackletException(
        f"Invalid {what} {text[:60]!r}…: it has {len(text)} characters; a search {what} may have "
        f"at most {limit} characters.",
        INVALID_PARAMETER_VALUE,
    )


def check_search_text(what: str, text: str, limit: int) -> None:
    """Refuse a filter or order-by clause over ``limit`` characters, or holding text no
    backend can store (NUL, lone surrogates), before any parsing."""
    if len(text) > limit:
        raise _too_long(what, text, limit)
    validate_text(what, text)


@lru_cache(maxsize=256)
def parse_order_key_cached(clause: str, kind: Kind) -> OrderKey:
    """One order-by entry, memoised."""
    return _Parser(clause, kind, "order_by clause").parse_order_key()


def parse_filter(filter_string: str | None, kind: Kind = "run") -> Expr | None:
    """Parse a search filter into an :data:`Expr`, or None when there is nothing to filter.

    :param filter_string: e.g. ``"metrics.loss < 0.5 AND params.model = 'cnn'"``;
        None, ``""`` and blanks mean "no filter".
    :param kind: ``"run"`` (search_runs) or ``"experiment"`` (search_experiments).
    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` naming the offending token
        and its 0-based position, or the limit exceeded (:data:`MAX_FILTER_LENGTH`
        characters, :data:`MAX_FILTER_COMPARISONS` comparisons, :data:`MAX_FILTER_VALUES`
        values in IN lists, :data:`MAX_FILTER_DEPTH` levels of parentheses).
    """
    kind = _check_kind(kind)
    if filter_string is None:
        return None
    if not isinstance(filter_string, str):
        raise TrackletException(
            f"Invalid filter {filter_string!r}: expected a string", INVALID_PARAMETER_VALUE
        )
    check_search_text("filter", filter_string, MAX_FILTER_LENGTH)
    if len(filter_string) > _CACHED_FILTER_LENGTH:
        return _parse_filter(filter_string, kind)
    return parse_filter_cached(filter_string, kind)


def parse_order_by(order_by: Sequence[str] | None, kind: Kind = "run") -> list[OrderKey]:
    """Parse order-by entries such as ``["metrics.m2 DESC", "params.p1"]``.

    :param order_by: a sequence of strings, or None for the default order.
    :param kind: ``"run"`` or ``"experiment"``.
    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` naming the entry, the token
        and its position, or the limit exceeded (:data:`MAX_ORDER_BY_CLAUSES` clauses of
        at most :data:`MAX_ORDER_BY_CLAUSE_LENGTH` characters).
    """
    kind = _check_kind(kind)
    if order_by is None:
        return []
    if isinstance(order_by, (str, bytes)) or not hasattr(order_by, "__iter__"):
        raise TrackletException(
            f"Invalid order_by {order_by!r}: expected a list of strings such as ['metrics.loss DESC']",
            INVALID_PARAMETER_VALUE,
        )
    clauses = list(order_by)
    if len(clauses) > MAX_ORDER_BY_CLAUSES:
        raise TrackletException(
            f"Invalid order_by: {len(clauses)} clauses; a search may be ordered by at most "
            f"{MAX_ORDER_BY_CLAUSES}.",
            INVALID_PARAMETER_VALUE,
        )
    keys = []
    for clause in clauses:
        if not isinstance(clause, str):
            raise TrackletException(
                f"Invalid order_by clause {clause!r}: expected a string", INVALID_PARAMETER_VALUE
            )
        check_search_text("order_by clause", clause, MAX_ORDER_BY_CLAUSE_LENGTH)
        keys.append(parse_order_key_cached(clause, kind))
    return keys
