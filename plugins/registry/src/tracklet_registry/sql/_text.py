"""String comparisons that behave like Python's ``str`` on sqlite, PostgreSQL and MySQL.

Names, aliases and tag values compare exactly and order by code point everywhere:

* MySQL/MariaDB: the tables' ``utf8mb4_bin`` collation is PAD SPACE (``'a' = 'a '``),
  so equality also compares ``CAST(... AS BINARY)`` (the plain comparison stays, for the
  index) and ordering goes through the binary cast (UTF-8 bytes order like code points).
* PostgreSQL: ordering uses ``COLLATE "C"``; equality is exact already.
* sqlite: ``BINARY`` collation and case-sensitive ``LIKE`` (tracklet-sql's engine sets
  ``PRAGMA case_sensitive_like=ON``); ``lower()`` folds only ASCII, so ``ILIKE`` lowers
  through Python's ``str.lower`` registered on the connection.

``LIKE`` patterns have no escape character (a backslash is literal, as in the
in-memory evaluator): every pattern is sent with ``ESCAPE '!'`` and only ``!`` is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["TextOps", "register_sqlite_lower"]

_ESCAPE = "!"
_SQLITE_LOWER = "tracklet_lower"


def _lower_or_none(value: str | None) -> str | None:
    return None if value is None else value.lower()


def register_sqlite_lower(conn: sa.Connection) -> None:
    """Give this sqlite connection the Unicode-aware ``tracklet_lower()`` that ILIKE uses."""
    driver_connection: Any = conn.connection.driver_connection
    driver_connection.create_function(_SQLITE_LOWER, 1, _lower_or_none, deterministic=True)


def like_pattern(pattern: str) -> str:
    """``pattern`` for ``LIKE ... ESCAPE '!'``: ``%`` and ``_`` stay wildcards, ``!`` is literal."""
    return pattern.replace(_ESCAPE, _ESCAPE + _ESCAPE)


class TextOps:
    """Exact string comparisons and code-point ordering for one dialect."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    def exact(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """``column`` as compared and ordered exactly (bytes on MySQL, "C" on PostgreSQL)."""
        if self.dialect == "mysql":
            return sa.type_coerce(sa.cast(column, mysql.BINARY()), sa.String())
        if self.dialect == "postgresql":
            return column.collate("C")
        return column

    def equals(self, column: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        """``column = value``, exactly (and still able to use an index on ``column``)."""
        if self.dialect == "mysql":
            return sa.and_(column == value, self.exact(column) == value)
        equal: ColumnElement[bool] = column == value
        return equal

    def _lower(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.dialect == "sqlite":
            lowered: ColumnElement[Any] = getattr(sa.func, _SQLITE_LOWER)(value)
            return lowered
        return sa.func.lower(value)

    def compare(self, column: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
        """``column <op> value`` for a string field (NULL never matches but for IS NULL)."""
        if op == "IS NULL":
            return column.is_(None)
        if op == "IS NOT NULL":
            return column.is_not(None)
        if op == "=":
            return self.equals(column, value)
        if op == "!=":
            differs: ColumnElement[bool] = self.exact(column) != value
            return differs
        if op == "IN":
            return self._in(column, value)
        if op == "NOT IN":
            return self.exact(column).not_in(list(value))
        if op == "LIKE":
            return column.like(like_pattern(value), escape=_ESCAPE)
        if op == "ILIKE":
            pattern = self._lower(sa.literal(like_pattern(value), sa.String))
            return self._lower(column).like(pattern, escape=_ESCAPE)
        raise AssertionError(f"no string comparison for {op!r}")

    def _in(self, column: ColumnElement[Any], values: Sequence[str]) -> ColumnElement[bool]:
        if self.dialect == "mysql":
            return sa.and_(column.in_(list(values)), self.exact(column).in_(list(values)))
        return column.in_(list(values))
