"""String comparisons that behave like Python's ``str`` on sqlite, PostgreSQL and MySQL.

The in-memory reference compares strings exactly and orders them by code point;
each dialect needs a nudge to do the same:

* MySQL/MariaDB: ``utf8mb4_bin`` is a PAD SPACE collation (``'a' = 'a '`` holds and
  trailing spaces do not order), so equality and ordering go through
  ``CAST(... AS BINARY)`` (UTF-8 bytes order like code points). Equality keeps the
  plain comparison too, so an index on the column can still be used.
* PostgreSQL: ordering uses ``COLLATE "C"``; equality is already exact.
* sqlite: ``BINARY`` collation and case-sensitive ``LIKE`` (the engine sets
  ``PRAGMA case_sensitive_like=ON``) already match; ``lower()`` only folds ASCII,
  so ``ILIKE`` lowers through Python's ``str.lower`` registered as a function.

MLflow's own tables on MySQL keep the server's default collation, usually
case-insensitive: there (``binary_like``) ``LIKE`` compares with a ``BINARY`` pattern,
as MLflow's store does (``LIKE BINARY``); equality and ordering are bytes already.

``LIKE`` in the reference has no escape character (a backslash is literal), while
PostgreSQL and MySQL escape with a backslash by default; every pattern is sent with
an explicit ``ESCAPE '!'`` and only ``!`` itself is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["TextOps", "register_sqlite_functions"]

_ESCAPE = "!"
_SQLITE_LOWER = "tracklet_lower"


def _lower_or_none(value: str | None) -> str | None:
    return None if value is None else value.lower()


def register_sqlite_functions(conn: sa.Connection) -> None:
    """Give this sqlite connection the Unicode-aware ``tracklet_lower()`` ILIKE needs."""
    driver_connection: Any = conn.connection.driver_connection
    driver_connection.create_function(_SQLITE_LOWER, 1, _lower_or_none, deterministic=True)


def like_pattern(pattern: str) -> str:
    """``pattern`` for ``LIKE ... ESCAPE '!'``: ``%`` and ``_`` stay wildcards, ``!`` is literal."""
    return pattern.replace(_ESCAPE, _ESCAPE + _ESCAPE)


class TextOps:
    """Exact string comparisons and code-point ordering for one dialect."""

    def __init__(self, dialect: str, binary_like: bool = False) -> None:
        self.dialect = dialect
        self.binary_like = binary_like and dialect == "mysql"

    def exact(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """``column`` as compared and ordered exactly (bytes on MySQL, "C" on PostgreSQL)."""
        if self.dialect == "mysql":
            # typed as a string again so that values compared with it bind as text
            return sa.type_coerce(sa.cast(column, sa.BINARY()), sa.String())
        if self.dialect == "postgresql":
            return column.collate("C")
        return column

    def _lower(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.dialect == "sqlite":
            return getattr(sa.func, _SQLITE_LOWER)(value)
        return sa.func.lower(value)

    def compare(self, column: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
        """``column <op> value`` for a string field (NULL never matches, as in the reference)."""
        if op == "IS NULL":
            return column.is_(None)
        if op == "IS NOT NULL":
            return column.is_not(None)
        if op == "=":
            return self._equals(column, value)
        if op == "!=":
            return self.exact(column) != value
        if op == "IN":
            return self._in(column, value)
        if op == "NOT IN":
            return self.exact(column).not_in(list(value))
        if op == "LIKE":
            if self.binary_like:
                binary = sa.cast(sa.literal(like_pattern(value), sa.String), sa.BINARY())
                return column.like(sa.type_coerce(binary, sa.String()), escape=_ESCAPE)
            return column.like(like_pattern(value), escape=_ESCAPE)
        if op == "ILIKE":
            pattern = self._lower(sa.literal(like_pattern(value), sa.String))
            return self._lower(column).like(pattern, escape=_ESCAPE)
        raise AssertionError(f"no string comparison for {op!r}")

    def _equals(self, column: ColumnElement[Any], value: str) -> ColumnElement[bool]:
        if self.dialect == "mysql":
            return sa.and_(column == value, self.exact(column) == value)
        return column == value

    def _in(self, column: ColumnElement[Any], values: Sequence[str]) -> ColumnElement[bool]:
        if self.dialect == "mysql":
            return sa.and_(column.in_(list(values)), self.exact(column).in_(list(values)))
        return column.in_(list(values))
